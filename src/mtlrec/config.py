"""Typed run configuration: data, features, tasks, model, training, output.

A run is described by one YAML document that loads into :class:`RunConfig`.
Every section is a pydantic model that forbids unknown keys, so a typo is an
error naming the key and the valid keys. Dotted overrides
(``model.num_experts=4``) are applied to the raw document before validation,
so they are checked by the same rules as the file.
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "BalancerConfig",
    "AdFunnelConfig",
    "ConfigError",
    "DWABalancerConfig",
    "FixedBalancerConfig",
    "GradNormBalancerConfig",
    "PCGradBalancerConfig",
    "UncertaintyBalancerConfig",
    "DataConfig",
    "PositionFeedConfig",
    "SequenceFeature",
    "FeaturesConfig",
    "CategoricalFeature",
    "NumericFeature",
    "ModelConfig",
    "ObjectiveTerm",
    "OptimizerConfig",
    "RunConfig",
    "ScoreConfig",
    "ServingConfig",
    "SplitConfig",
    "SyntheticConfig",
    "TaskConfig",
    "TrainConfig",
    "TuneRange",
    "apply_overrides",
    "load_config",
    "parse_config",
]

SPLITS = ("train", "valid", "test")
GENERATED_FORMATS = ("synthetic", "ad_funnel", "position_feed")


class ConfigError(ValueError):
    """A run configuration that cannot be used; the message names key and fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SyntheticConfig(_Section):
    """Settings of the built-in MMoE-paper generator (``data.format: synthetic``).

    Defaults follow PLE's reproduction of the MMoE generator (c=1, m=10) at a
    size that trains in seconds; see ``mtlrec.data.mmoe_synthetic``.
    """

    num_rows: int = Field(12000, gt=0)
    input_dim: int = Field(100, gt=0)
    correlation: float = Field(0.5, ge=-1.0, le=1.0)
    scale: float = Field(1.0, gt=0)
    num_sines: int = Field(10, ge=0)
    noise_std: float = Field(0.01, ge=0)
    seed: int = 0


class AdFunnelConfig(_Section):
    """Settings of the simulated advertising funnel (``data.format: ad_funnel``).

    See ``mtlrec.data.ad_funnel_synthetic``: impressions pass ``num_steps``
    chained binary steps (click, application, approval, activation, ...).
    """

    num_rows: int = Field(20000, gt=0)
    num_steps: int = Field(4, ge=2)
    num_fields: int = Field(6, gt=0)
    vocab_size: int = Field(30, gt=1)
    seed: int = 0


class PositionFeedConfig(_Section):
    """Settings of the simulated feed (``data.format: position_feed``).

    See ``mtlrec.data.position_feed_synthetic``: lists ranked by a logging
    policy, clicks from position-dependent examination times true relevance.
    """

    num_lists: int = Field(3000, gt=0)
    list_size: int = Field(10, gt=1)
    num_items: int = Field(500, gt=1)
    examination_power: float = Field(1.0, ge=0)
    policy_noise: float = Field(0.5, ge=0)
    seed: int = 0


class SplitConfig(_Section):
    """How rows are assigned to the train, valid and test splits.

    ``random``: seeded random fractions of all rows read; with ``by`` set,
    fractions of the distinct values of that column (e.g. user-disjoint
    splits). ``column``: the value of ``column`` names each row's split through
    ``values``. ``files``: each split comes from its own file in ``data.files``.
    """

    method: Literal["random", "column", "files"] = "random"
    fractions: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.8, "valid": 0.1, "test": 0.1}
    )
    seed: int = 0
    by: str | None = None
    column: str | None = None
    values: dict[str, str] = Field(default_factory=lambda: {s: s for s in SPLITS})

    @field_validator("fractions")
    @classmethod
    def _check_fractions(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(SPLITS):
            raise ValueError(
                f"split.fractions must name exactly {list(SPLITS)}, got "
                f"{sorted(value)!r}; give all three, e.g. "
                "data.split.fractions={train: 0.9, valid: 0.05, test: 0.05}"
            )
        if any(f <= 0 for f in value.values()):
            raise ValueError(f"split.fractions must all be > 0, got {value!r}")
        if abs(sum(value.values()) - 1.0) > 1e-6:
            raise ValueError(
                f"split.fractions must sum to 1, got {sum(value.values())!r}"
            )
        return value

    @model_validator(mode="after")
    def _check_method(self) -> SplitConfig:
        if self.method == "column" and not self.column:
            raise ValueError("split.method 'column' needs split.column")
        if self.method == "column" and set(self.values) != set(SPLITS):
            raise ValueError(f"split.values must map each of {list(SPLITS)}")
        return self


class DataConfig(_Section):
    """Where the rows come from and how they are split.

    ``path`` and ``files`` are relative to the data directory (``--data-dir``,
    else ``$MTLREC_DATA_DIR``, else the current directory) unless absolute.
    ``weight_column`` holds non-negative per-row sample weights used by every
    task's loss (a task's own ``weight_column`` takes precedence).
    """

    format: Literal[
        "csv",
        "parquet",
        "census_income",
        "synthetic",
        "movielens_100k",
        "taobao_user_behavior",
        "ad_funnel",
        "position_feed",
    ] = "csv"
    path: str | None = None
    files: dict[str, str] | None = None
    split: SplitConfig = Field(default_factory=SplitConfig)
    synthetic: SyntheticConfig = Field(default_factory=SyntheticConfig)
    ad_funnel: AdFunnelConfig = Field(default_factory=AdFunnelConfig)
    position_feed: PositionFeedConfig = Field(default_factory=PositionFeedConfig)
    group_column: str | None = None
    weight_column: str | None = None
    domain_column: str | None = None
    csv_separator: str = ","

    @model_validator(mode="after")
    def _check_source(self) -> DataConfig:
        if self.format in GENERATED_FORMATS:
            return self
        if self.split.method == "files":
            if not self.files or set(self.files) != set(SPLITS):
                raise ValueError(
                    "data.split.method 'files' needs data.files with keys "
                    f"{list(SPLITS)}"
                )
        elif self.path is None:
            raise ValueError(
                f"data.path is required for data.format {self.format!r} "
                f"with split.method {self.split.method!r}"
            )
        return self


class CategoricalFeature(_Section):
    """A categorical column; ``name`` may be a glob such as ``'c*'``."""

    name: str
    min_count: int = Field(1, ge=1)


class NumericFeature(_Section):
    """A numeric column; ``name`` may be a glob such as ``'x*'``."""

    name: str
    scaling: Literal["standard", "minmax", "none"] = "standard"


class SequenceFeature(_Section):
    """A history of earlier events per key, built from the log by time.

    With ``source: log`` (default), for each row, the events of the same
    ``key`` (e.g. user) whose ``order`` value (e.g. timestamp) is strictly
    smaller, the latest ``max_length`` of them, oldest first. With ``source:
    column``, each of ``columns`` already holds a row's history as ids joined
    by ``separator`` (oldest first); a history longer than ``max_length`` is
    an error. Each event carries one id per column (e.g. item id and
    behaviour type), encoded with its own vocabulary.

    Args:
        name: Name of the feature.
        source: ``log`` or ``column`` (default ``log``).
        key: Column whose equal values share a history (``log`` only).
        order: Column that orders events (``log`` only).
        columns: Event columns, one id channel each.
        separator: Separator of ids in a ``column`` history (default ``|``).
        max_length: Longest history kept ``L`` (default 20).
        pooling: How models that pool histories reduce them: ``mean``,
            ``sum`` or ``attention`` (default ``mean``).
        min_count: Training count an event value needs for its own id.
    """

    name: str
    source: Literal["log", "column"] = "log"
    key: str | None = None
    order: str | None = None
    columns: Annotated[list[str], Field(min_length=1)]
    separator: str = Field("|", min_length=1)
    max_length: int = Field(20, gt=0)
    pooling: Literal["mean", "sum", "attention"] = "mean"
    min_count: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _check_source(self) -> SequenceFeature:
        if self.source == "log" and (self.key is None or self.order is None):
            raise ValueError(
                f"sequence feature {self.name!r} with source 'log' needs key and "
                "order columns (or set source: column for pre-built histories)"
            )
        return self


class FeaturesConfig(_Section):
    """Input features. ``exclude`` removes columns that globs would match.

    ``context`` lists categorical columns used only in training (position,
    device): models that use them (the shallow bias tower) read them from
    ``Batch.context``; they are ignored, and may be absent, at prediction.
    ``sequence`` declares one history feature (see :class:`SequenceFeature`).
    """

    categorical: list[CategoricalFeature] = Field(default_factory=list)
    numeric: list[NumericFeature] = Field(default_factory=list)
    context: list[CategoricalFeature] = Field(default_factory=list)
    sequence: SequenceFeature | None = None
    exclude: list[str] = Field(default_factory=list)
    embedding_dim: int = Field(16, gt=0)

    @model_validator(mode="after")
    def _check_nonempty(self) -> FeaturesConfig:
        if not self.categorical and not self.numeric:
            raise ValueError(
                "features needs at least one entry under categorical or numeric"
            )
        return self


class TaskConfig(_Section):
    """One prediction target.

    Binary labels are taken from ``label`` directly (0/1), or derived: 1 where
    the value is in ``positive_values`` or greater than ``positive_above``.
    A task with ``parent`` is learnt and judged only on rows where the parent's
    label is 1 (CVR on clicks), unless the model trains it in the entire space.

    Regression losses: ``mse``, ``huber``; ``weighted_logistic`` for watch
    time (a logistic regression on ``label > 0`` whose positives are weighted
    by the label, so ``exp(logit)`` estimates the expected label, as in
    YouTube's ranking model; labels >= 0); ``lognormal`` for positive values
    such as order value (the output is ``mu`` of ``log y ~ N(mu, sigma^2)``
    with ``sigma = lognormal_sigma``, prediction ``exp(mu + sigma^2 / 2)``;
    labels > 0 in the task's space). A ``lognormal`` task whose parent marks
    ``value > 0`` is a zero-inflated log-normal: its ``{task}@entire``
    prediction is ``P(parent) * exp(mu + sigma^2 / 2)``.
    ``weight_column`` names per-row sample weights for this task's loss.
    """

    name: str
    label: str
    type: Literal["binary", "regression"] = "binary"
    loss: Literal["bce", "mse", "huber", "weighted_logistic", "lognormal"] | None = None
    weight: float = Field(1.0, ge=0)
    parent: str | None = None
    positive_values: list[str | int | float] | None = None
    positive_above: float | None = None
    huber_delta: float = Field(1.0, gt=0)
    lognormal_sigma: float = Field(1.0, gt=0)
    weight_column: str | None = None

    @model_validator(mode="after")
    def _check_loss(self) -> TaskConfig:
        if self.loss is None:
            self.loss = "bce" if self.type == "binary" else "mse"
        if self.type == "binary" and self.loss != "bce":
            raise ValueError(
                f"task {self.name!r}: a binary task takes loss 'bce', got {self.loss!r}"
            )
        if self.type == "regression" and self.loss == "bce":
            raise ValueError(
                f"task {self.name!r}: a regression task takes loss 'mse', 'huber', "
                "'weighted_logistic' or 'lognormal', got 'bce'"
            )
        derived = self.positive_values is not None or self.positive_above is not None
        if derived and self.type != "binary":
            raise ValueError(
                f"task {self.name!r}: positive_values/positive_above only apply "
                "to binary tasks"
            )
        if self.positive_values is not None and self.positive_above is not None:
            raise ValueError(
                f"task {self.name!r}: set positive_values or positive_above, not both"
            )
        return self


class ModelConfig(_Section):
    """Base of every model's config; ``name`` selects the registered model.

    Each model subclasses this with its own typed fields; the registry maps
    ``name`` to the subclass when a run config is validated.
    """

    name: str

    @property
    def learns_task_weights(self) -> bool:
        """Whether the model learns its own task-loss weights (default False).

        Such a model adds its weighting term to the loss itself, so a learning
        balancer on top of it would weight the tasks twice.
        """
        return False


class OptimizerConfig(_Section):
    """The optimiser of the model weights."""

    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)


class ObjectiveTerm(_Section):
    """One term of the model-selection objective: ``weight * task.metric``.

    ``direction`` defaults to the metric's natural one (AUC up, losses down).
    """

    task: str
    metric: Literal["auc", "gauc", "logloss", "mse", "mae", "rmse", "xauc"]
    weight: float = Field(1.0, gt=0)
    direction: Literal["max", "min"] | None = None

    @model_validator(mode="after")
    def _default_direction(self) -> ObjectiveTerm:
        if self.direction is None:
            maximise = self.metric in ("auc", "gauc", "xauc")
            self.direction = "max" if maximise else "min"
        return self


class FixedBalancerConfig(_Section):
    """Fixed task weights ``sum_k w_k L_k`` (the tasks' ``weight``).

    ``decay`` maps task names to ``gamma_k`` for PLE's schedule
    ``w_k(t) = w_k * gamma_k ** (t - 1)`` at epoch ``t``; unnamed tasks keep
    their weight.
    """

    name: Literal["fixed"] = "fixed"
    decay: dict[str, float] = Field(default_factory=dict)


class UncertaintyBalancerConfig(_Section):
    """Homoscedastic uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018).

    Learns ``s_k = log sigma_k^2`` with the model's optimiser, without weight
    decay, starting from ``init``.
    """

    name: Literal["uncertainty"] = "uncertainty"
    init: float = 0.0


class DWABalancerConfig(_Section):
    """Dynamic Weight Average (Liu, Johns & Davison, CVPR 2019).

    ``temperature`` is ``T``: larger values bring the weights closer to equal.
    """

    name: Literal["dwa"] = "dwa"
    temperature: float = Field(2.0, gt=0)


class GradNormBalancerConfig(_Section):
    """GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018).

    ``alpha`` is the restoring-force strength, ``lr`` the Adam learning rate of
    the task weights; ``parameters`` is where gradient norms are measured:
    ``last`` (the last shared weight tensor, as in the paper) or ``all``
    (every shared parameter).
    """

    name: Literal["gradnorm"] = "gradnorm"
    alpha: float = Field(1.5, ge=0)
    lr: float = Field(0.025, gt=0)
    parameters: Literal["last", "all"] = "last"


class PCGradBalancerConfig(_Section):
    """Projecting conflicting gradients (Yu et al., NeurIPS 2020)."""

    name: Literal["pcgrad"] = "pcgrad"


BalancerConfig = Annotated[
    FixedBalancerConfig
    | UncertaintyBalancerConfig
    | DWABalancerConfig
    | GradNormBalancerConfig
    | PCGradBalancerConfig,
    Field(discriminator="name"),
]


class TrainConfig(_Section):
    """The optimisation loop and model selection.

    ``sparse_embeddings`` gives the embedding table sparse gradients and
    updates only the rows a batch touched (lazy Adam through
    :class:`~mtlrec.training.RowwiseAdam`; plain SGD for ``sgd``); weight decay and
    gradient clipping then apply to the dense parameters only.
    ``precision: bfloat16`` runs forward and loss under CPU/GPU autocast;
    ``eval_precision: bfloat16`` does the same for validation, evaluation,
    prediction and serving (scores then differ from float32 by about 1e-3).
    ``eval_batch_size`` is the rows per prediction batch; None (the default)
    takes 2,048 in float32 and 8,192 in bfloat16, where the fused inference
    path gains from larger batches (see
    :func:`~mtlrec.training.predict_scores`).
    ``balancer`` turns the per-task losses into one update (default: fixed
    task weights); ``tensorboard`` writes TensorBoard event files under the
    run directory's ``tensorboard/`` folder.
    """

    epochs: int = Field(10, gt=0)
    batch_size: int = Field(1024, gt=0)
    eval_batch_size: int | None = Field(None, gt=0)
    seed: int = 0
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    grad_clip_norm: float | None = Field(None, gt=0)
    patience: int = Field(3, ge=1)
    objective: list[ObjectiveTerm] = Field(default_factory=list)
    threads: int | None = Field(None, gt=0)
    progress_bar: bool = True
    sparse_embeddings: bool = False
    precision: Literal["float32", "bfloat16"] = "float32"
    eval_precision: Literal["float32", "bfloat16"] = "float32"
    balancer: BalancerConfig = Field(default_factory=FixedBalancerConfig)
    tensorboard: bool = False

    @field_validator("balancer", mode="before")
    @classmethod
    def _balancer_by_name(cls, value: Any) -> Any:
        # `train.balancer=dwa` means the balancer with its defaults.
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_sparse(self) -> TrainConfig:
        if self.sparse_embeddings and self.balancer.name == "pcgrad":
            raise ValueError(
                "train.balancer 'pcgrad' projects dense gradients of the shared "
                "parameters; set train.sparse_embeddings=false to use it"
            )
        return self


class ScoreConfig(_Section):
    """The fused ranking score the server returns beside the per-task predictions.

    ``weighted_product``: ``prod_k max(p_k, 1e-12) ** w_k``; ``weighted_sum``:
    ``sum_k w_k * p_k``. ``p_k`` is a prediction the run reports: a task's
    probability or value, or ``{task}@entire`` for a binary child task.
    Empty ``weights`` means weight 1 for every task (not the ``@entire`` ones).
    """

    type: Literal["weighted_product", "weighted_sum"] = "weighted_product"
    weights: dict[str, float] = Field(default_factory=dict)

    @field_validator("weights")
    @classmethod
    def _check_weights(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in value.items() if not math.isfinite(w)}
        if bad:
            raise ValueError(f"score weights must be finite numbers, got {bad!r}")
        return value


class ServingConfig(_Section):
    """How ``mtlrec serve`` scores requests.

    Args:
        score: The fused ranking score (default: product of every task's
            prediction, weight 1 each).
        max_batch_rows: Most rows one request may hold (default 1024).
        max_body_bytes: Largest request body in bytes (default 4 MiB); a
            larger one is refused with status 413.
    """

    score: ScoreConfig = Field(default_factory=ScoreConfig)
    max_batch_rows: int = Field(1024, gt=0)
    max_body_bytes: int = Field(4 * 1024 * 1024, gt=0)


class TuneRange(_Section):
    """One searched setting of ``mtlrec tune``, keyed by its dotted path.

    ``int`` and ``float`` draw from ``[low, high]`` (on a log scale with
    ``log``); ``categorical`` picks one of ``choices``.
    """

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _check_range(self) -> TuneRange:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical range needs a non-empty 'choices'")
            return self
        if self.low is None or self.high is None or self.low >= self.high:
            raise ValueError(
                f"an {self.type} range needs low < high, got low={self.low!r} "
                f"high={self.high!r}"
            )
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, got {self.low!r}")
        return self


def _model_config_from_registry(value: Any) -> ModelConfig:
    # Imported here: the registry imports model modules, which import config.
    from mtlrec.models import get_model_config_class

    if isinstance(value, ModelConfig):
        return value
    if not isinstance(value, Mapping) or "name" not in value:
        raise ValueError("config key 'model' must be a mapping with a 'name' key")
    try:
        config_class = get_model_config_class(str(value["name"]))
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    try:
        return config_class.model_validate(dict(value))
    except ValidationError as exc:
        raise ValueError(_describe(exc, prefix="model", root=config_class)) from None


class RunConfig(_Section):
    """A whole run: what to read, what to predict, how to learn it."""

    data: DataConfig
    features: FeaturesConfig
    tasks: Annotated[list[TaskConfig], Field(min_length=1)]
    model: SerializeAsAny[ModelConfig]
    train: TrainConfig = Field(default_factory=TrainConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    output_dir: str = "runs/run"
    tune: dict[str, TuneRange] = Field(default_factory=dict)

    @field_validator("model", mode="before")
    @classmethod
    def _resolve_model(cls, value: Any) -> ModelConfig:
        return _model_config_from_registry(value)

    @model_validator(mode="after")
    def _check_tasks(self) -> RunConfig:
        names = [t.name for t in self.tasks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"task names must be unique, repeated: {duplicates!r}")
        by_name = {t.name: t for t in self.tasks}
        for task in self.tasks:
            if task.parent is None:
                continue
            if task.parent not in by_name:
                raise ValueError(
                    f"task {task.name!r} has parent {task.parent!r}, which is not "
                    f"a task; valid parents are "
                    f"{[n for n in names if n != task.name]!r}"
                )
            if by_name[task.parent].type != "binary":
                raise ValueError(
                    f"task {task.name!r}: parent {task.parent!r} must be binary"
                )
        for task in self.tasks:
            _check_acyclic(task.name, by_name)
        for position, task in enumerate(self.tasks):
            if task.parent is not None and task.parent in names[position:]:
                raise ValueError(
                    f"task {task.name!r} is listed before its parent "
                    f"{task.parent!r}; declare the steps of a funnel in order, "
                    "parent first"
                )
        self._default_objective(names)
        self._check_score_weights(names)
        self._check_balancer(names)
        return self

    def _check_score_weights(self, names: list[str]) -> None:
        # Imported here: mtlrec.losses imports the models, which import config.
        from mtlrec.losses import ENTIRE_SUFFIX

        valid = list(names)
        for task in self.tasks:
            if task.parent is not None and task.type == "binary":
                valid.append(task.name + ENTIRE_SUFFIX)
        unknown = sorted(set(self.serving.score.weights) - set(valid))
        if unknown:
            raise ValueError(
                f"serving.score.weights names {unknown!r}, which the model does not "
                f"predict; valid names are {valid!r}"
            )

    def _check_balancer(self, names: list[str]) -> None:
        balancer = self.train.balancer
        if self.model.learns_task_weights and balancer.name != "fixed":
            raise ValueError(
                f"model {self.model.name!r} learns its own task-loss weights "
                f"(model.dynamic_weights), so train.balancer {balancer.name!r} "
                "would weight the tasks twice; set model.dynamic_weights=false to "
                "use the balancer"
            )
        if isinstance(balancer, FixedBalancerConfig):
            unknown = sorted(set(balancer.decay) - set(names))
            if unknown:
                raise ValueError(
                    f"train.balancer.decay names unknown tasks {unknown!r}; valid "
                    f"tasks are {names!r}"
                )

    def _default_objective(self, names: list[str]) -> None:
        if not self.train.objective:
            terms = [
                ObjectiveTerm(
                    task=t.name, metric="auc" if t.type == "binary" else "mse"
                )
                for t in self.tasks
            ]
            self.train.objective = terms
        for term in self.train.objective:
            if term.task not in names:
                raise ValueError(
                    f"train.objective names task {term.task!r}; valid tasks are "
                    f"{names!r}"
                )

    def task(self, name: str) -> TaskConfig:
        """Return the task called ``name``."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"no task named {name!r}")


def _check_acyclic(start: str, by_name: dict[str, TaskConfig]) -> None:
    seen = [start]
    parent = by_name[start].parent
    while parent is not None:
        if parent in seen:
            chain = " -> ".join([*seen, parent])
            raise ValueError(f"task parents form a cycle: {chain}; remove one parent")
        seen.append(parent)
        parent = by_name[parent].parent


def apply_overrides(
    document: dict[str, Any], overrides: Iterable[str]
) -> dict[str, Any]:
    """Return a copy of ``document`` with dotted ``key=value`` overrides set.

    Values are parsed as YAML scalars or flow collections (``4``, ``true``,
    ``[64, 32]``). List items are addressed by index (``tasks.0.weight=2``).

    Raises:
        ConfigError: An override lacks ``=`` or walks through a scalar.
    """
    result = copy.deepcopy(document)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(
                f"override {item!r} is not KEY=VALUE; write e.g. model.num_experts=4"
            )
        try:
            value = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"override {item!r}: value {raw!r} is not valid YAML "
                f"({_yaml_problem(exc)}); close its brackets or quote it"
            ) from None
        _set_dotted(result, key.split("."), value, item)
    return result


def _set_dotted(node: Any, parts: list[str], value: Any, item: str) -> None:
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f"override {item!r}: {part!r} is not an index below {len(node)}"
                )
            if last:
                node[int(part)] = value
                return
            node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
                return
            node = node.setdefault(part, {})
        else:
            raise ConfigError(f"override {item!r}: {part!r} is inside a scalar value")


def parse_config(
    document: Mapping[str, Any], overrides: Iterable[str] = ()
) -> RunConfig:
    """Validate a config mapping (plus dotted overrides) into a RunConfig.

    Raises:
        ConfigError: The document breaks a rule; the message names the key.
    """
    if not isinstance(document, Mapping):
        raise ConfigError(
            f"a run config must be a mapping, got {type(document).__name__}"
        )
    raw = apply_overrides(dict(document), overrides)
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> RunConfig:
    """Read a YAML run config from ``path`` and validate it.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ConfigError: The YAML is malformed or breaks a rule.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} does not exist")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"config file {str(path)!r} is not valid YAML: {_yaml_problem(exc)}"
        ) from None
    return parse_config(document or {}, overrides)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: what the YAML parser found wrong, and where (1-based)."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return str(problem)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"


def _describe(
    exc: ValidationError, prefix: str = "", root: type[BaseModel] | None = None
) -> str:
    # An unknown key is reported first: a misspelt required key also shows
    # up as "missing", and the unknown-key message names the fix.
    errors = exc.errors()
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    error = (unknown or errors)[0]
    parts = [str(p) for p in error["loc"]]
    location = ".".join([prefix, *parts] if prefix else parts)
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key_message(location, parts, root or RunConfig)
    if kind == "missing":
        return f"config key {location!r} is required; add it"
    message = error["msg"].removeprefix("Value error, ")
    if kind != "value_error":
        given = error.get("input")
        fix = ""
        if kind == "list_type" and isinstance(given, str) and "," in given:
            fix = f"; write a list in brackets: {location}=[{given}]"
        elif (
            kind == "list_type"
            and isinstance(given, dict)
            and given
            and all(str(key).isdigit() for key in given)
        ):  # a dotted index into a list the config does not have
            fix = (
                "; the config has no list here to index, so give the whole list: "
                f"{location}=[...]"
            )
        return f"config key {location!r}: {message} (got {given!r}){fix}"
    if message.startswith("config key") or not location:
        return message
    return f"config key {location!r}: {message}"


def _unknown_key_message(location: str, parts: list[str], root: type[BaseModel]) -> str:
    key = parts[-1]
    valid = _valid_keys(parts[:-1], root)
    hint = difflib.get_close_matches(key, valid, n=1)
    head, dot, _ = location.rpartition(".")
    if not hint and len(parts) == 1:  # a section's key given at the top level
        hint = [
            f"{name}.{key}"
            for name, field in root.model_fields.items()
            if isinstance(field.annotation, type)
            and issubclass(field.annotation, BaseModel)
            and key in field.annotation.model_fields
        ][:1]
    fix = f"; did you mean {head + dot + hint[0]!r}?" if hint else ";"
    return (
        f"config key {location!r} is not a known setting{fix} valid keys here: "
        f"{sorted(valid)!r}"
    )


def _valid_keys(parents: list[str], root: type[BaseModel]) -> list[str]:
    models: list[type[BaseModel]] = [root]
    for part in parents:
        if not models or part.isdigit():
            continue
        field = models[0].model_fields.get(part)
        if field is None:
            # A tagged union's location names the chosen member's tag.
            models = [m for m in models if _tag(m) == part]
            continue
        models = _section_types(field.annotation)
    return list(models[0].model_fields) if len(models) == 1 else []


def _tag(model: type[BaseModel]) -> Any:
    field = model.model_fields.get("name")
    return field.default if field is not None else None


def _section_types(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        found.extend(_section_types(arg))
    return found
