"""Feature encoders fitted on the training split, saved as JSON with the run."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mtlrec.config import FeaturesConfig
from mtlrec.data import columns_hint

if TYPE_CHECKING:
    from mtlrec.features._sequence import SequenceEncoder

__all__ = ["CategoricalEncoder", "FeatureMap", "NumericEncoder", "canonical_strings"]

OOV_ID = 0


def canonical_strings(column: pd.Series) -> pd.Series:
    """Map values to the strings used as vocabulary keys.

    Integral floats print as integers (``3.0 -> "3"``), so a column read with
    missing values (float) and without (int) gives the same keys; missing
    values stay missing.
    """
    if pd.api.types.is_bool_dtype(column):
        return column.astype("string")
    if pd.api.types.is_numeric_dtype(column):
        values = column.astype("float64")
        integral = values.notna() & (values % 1 == 0)
        result = values.astype("string")
        result[integral] = values[integral].astype("int64").astype("string")
        return result
    return column.astype("string").str.strip()


@dataclass
class CategoricalEncoder:
    """Vocabulary of one categorical column; id 0 is shared by unseen and missing.

    Attributes:
        name: Column name.
        vocabulary: Known values in id order (value ``i`` has id ``i + 1``).
        min_count: Training count a value needs to get its own id.
    """

    name: str
    vocabulary: list[str]
    min_count: int = 1

    @classmethod
    def fit(cls, column: pd.Series, min_count: int) -> CategoricalEncoder:
        """Learn the vocabulary from a training column (most frequent first)."""
        integers = _integer_values(column)
        keys = (
            pd.Series(integers) if integers is not None else canonical_strings(column)
        )
        counts = keys.value_counts(dropna=True)
        kept = counts[counts >= min_count]
        # Sort by count, then by value, so ids never depend on row order.
        frame = pd.DataFrame({"value": kept.index, "count": kept.to_numpy()})
        frame = frame.sort_values(["count", "value"], ascending=[False, True])
        return cls(str(column.name), [str(v) for v in frame["value"]], min_count)

    @property
    def size(self) -> int:
        """Rows needed in an embedding table: the vocabulary plus the OOV id."""
        return len(self.vocabulary) + 1

    def transform(self, column: pd.Series) -> np.ndarray:
        """Return ``(N,)`` int64 ids; unseen and missing values get 0."""
        integers = _integer_values(column)
        index = self._integer_index() if integers is not None else None
        if integers is not None and index is not None:
            # Fast path: integer keys looked up without building strings.
            ids = index.get_indexer(integers.fillna(-(2**62)).to_numpy(np.int64)) + 1
            ids[integers.isna().to_numpy()] = OOV_ID
            return ids.astype(np.int64)
        keys = canonical_strings(column)
        ids = pd.Index(self.vocabulary).get_indexer(
            keys.fillna("\x00missing").to_numpy(object)
        )
        ids = ids + 1
        ids[keys.isna().to_numpy()] = OOV_ID
        return ids.astype(np.int64)

    def _integer_index(self) -> pd.Index | None:
        # The vocabulary as int64 keys, when every entry is an integer string.
        cached = self.__dict__.get("_int_index", False)
        if cached is not False:
            return cached
        try:
            values = [int(v) for v in self.vocabulary]
            index: pd.Index | None = pd.Index(np.asarray(values, dtype=np.int64))
            if [str(v) for v in values] != self.vocabulary:
                index = None
        except ValueError:
            index = None
        self.__dict__["_int_index"] = index
        return index


def _integer_values(column: pd.Series) -> pd.Series | None:
    """The column as nullable int64 if every present value is integral, else None."""
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return None
    if pd.api.types.is_integer_dtype(column):
        return column.astype("Int64")
    values = column.astype("float64")
    present = values.dropna()
    if not np.all(np.mod(present.to_numpy(), 1) == 0):
        return None
    return values.astype("Int64")


@dataclass
class NumericEncoder:
    """Scaling of one numeric column; missing values are filled and flagged.

    Attributes:
        name: Column name.
        scaling: ``standard``, ``minmax`` or ``none``.
        center: Subtracted before scaling (mean, min or 0).
        scale: Divisor (std, max - min or 1; never 0).
        fill: Raw value put in place of a missing one (the training mean).
        flag_missing: Emit a 0/1 "was missing" column after the value.
    """

    name: str
    scaling: str
    center: float
    scale: float
    fill: float
    flag_missing: bool

    @classmethod
    def fit(cls, column: pd.Series, scaling: str) -> NumericEncoder:
        """Learn centre, scale and fill value from a training column."""
        values = _numeric(column)
        present = values[~np.isnan(values)]
        mean = float(present.mean()) if present.size else 0.0
        if scaling == "standard":
            center, scale = mean, float(present.std()) if present.size else 1.0
        elif scaling == "minmax":
            low = float(present.min()) if present.size else 0.0
            high = float(present.max()) if present.size else 1.0
            center, scale = low, high - low
        else:
            center, scale = 0.0, 1.0
        return cls(
            str(column.name),
            scaling,
            center,
            scale if scale > 0 else 1.0,
            mean,
            bool(np.isnan(values).any()),
        )

    @property
    def width(self) -> int:
        """Number of dense columns this feature emits (1, or 2 with a flag)."""
        return 2 if self.flag_missing else 1

    def transform(self, column: pd.Series) -> np.ndarray:
        """Return ``(N, width)`` float32: scaled value (and missing flag)."""
        values = _numeric(column)
        missing = np.isnan(values)
        scaled = (np.where(missing, self.fill, values) - self.center) / self.scale
        parts = [scaled, missing.astype(np.float64)] if self.flag_missing else [scaled]
        return np.stack(parts, axis=1).astype(np.float32)


def _numeric(column: pd.Series) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if bad.any():
        raise ValueError(
            f"numeric feature {column.name!r} holds non-numeric values such as "
            f"{column[bad].iloc[0]!r}; declare it under features.categorical"
        )
    return values.to_numpy(np.float64)


@dataclass
class FeatureMap:
    """Every fitted encoder of a run, in the order the model sees them.

    Attributes:
        categorical: Categorical encoders; their ids form the ``(N, F)`` array.
        numeric: Numeric encoders; their outputs form the dense array.
        embedding_dim: Embedding width ``D`` of every categorical field.
        context: Training-only context encoders (position, device).
        sequence: The history feature's encoder, if one is declared.
        domain_column: Column naming each row's domain, if any.
        domains: Domain values seen in training, in domain-index order.
    """

    categorical: list[CategoricalEncoder] = field(default_factory=list)
    numeric: list[NumericEncoder] = field(default_factory=list)
    embedding_dim: int = 16
    context: list[CategoricalEncoder] = field(default_factory=list)
    sequence: SequenceEncoder | None = None
    domain_column: str | None = None
    domains: list[str] = field(default_factory=list)

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        config: FeaturesConfig,
        reserved: set[str],
        domain_column: str | None = None,
    ) -> FeatureMap:
        """Fit encoders on the training frame.

        Args:
            frame: The training split.
            config: Which columns are categorical or numeric (globs allowed).
            reserved: Columns that are never inputs (labels, split, weights,
                and the group column unless a feature names it).
            domain_column: Column naming each row's domain (default None).

        Raises:
            ValueError: A named column is missing, matched twice, or is a label;
                the domain column is missing or holds missing values.
        """
        candidates = [c for c in frame.columns if c not in reserved]
        candidates = [
            c
            for c in candidates
            if not any(fnmatch.fnmatchcase(c, p) for p in config.exclude)
        ]
        taken: set[str] = set()
        categorical = [
            CategoricalEncoder.fit(frame[name], spec.min_count)
            for spec in config.categorical
            for name in _match(spec.name, candidates, reserved, taken)
        ]
        numeric = [
            NumericEncoder.fit(frame[name], spec.scaling)
            for spec in config.numeric
            for name in _match(spec.name, candidates, reserved, taken)
        ]
        context = [
            CategoricalEncoder.fit(frame[name], spec.min_count)
            for spec in config.context
            for name in _match(spec.name, candidates, reserved, taken)
        ]
        sequence = None
        if config.sequence is not None:
            from mtlrec.features._sequence import SequenceEncoder

            sequence = SequenceEncoder.fit(frame, config.sequence)
        domains: list[str] = []
        if domain_column is not None:
            keys = _domain_keys(frame, domain_column, "the training split")
            domains = sorted(keys.unique().tolist())
        return cls(
            categorical,
            numeric,
            config.embedding_dim,
            context,
            sequence,
            domain_column,
            domains,
        )

    def transform_domains(
        self, frame: pd.DataFrame, where: str = "the data"
    ) -> np.ndarray | None:
        """Return ``(N,)`` int64 domain indices, or None without a domain column.

        Raises:
            ValueError: The column is missing or holds missing values, or a
                value was never seen in training.
        """
        if self.domain_column is None:
            return None
        keys = _domain_keys(frame, self.domain_column, where)
        index = pd.Index(self.domains).get_indexer(keys.to_numpy(object))
        if (index < 0).any():
            unseen = sorted(set(keys[index < 0].tolist()))
            raise ValueError(
                f"domain column {self.domain_column!r} in {where} holds values "
                f"{unseen[:5]!r} absent from training (known: {self.domains!r}); "
                "train with rows of every domain"
            )
        return index.astype(np.int64)

    def transform_context(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Return ``(N, P)`` context ids; an absent column gives OOV ids 0."""
        if not self.context:
            return None
        ids = np.zeros((len(frame), len(self.context)), dtype=np.int64)
        for p, encoder in enumerate(self.context):
            if encoder.name in frame.columns:
                ids[:, p] = encoder.transform(frame[encoder.name])
        return ids

    @property
    def columns(self) -> list[str]:
        """Input columns a frame must hold for :meth:`transform`."""
        return [e.name for e in self.categorical] + [e.name for e in self.numeric]

    @property
    def vocab_sizes(self) -> tuple[int, ...]:
        """Embedding rows per categorical field (OOV included)."""
        return tuple(e.size for e in self.categorical)

    @property
    def num_dense(self) -> int:
        """Width of the dense array."""
        return sum(e.width for e in self.numeric)

    def transform(
        self, frame: pd.DataFrame, where: str = "the data"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Encode ``frame`` into ``(N, F)`` int64 ids and ``(N, dense)`` float32.

        Raises:
            ValueError: An input column is missing from ``frame``.
        """
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(
                f"{where} lacks feature columns {missing!r} that the model was "
                "trained on; add them (missing values are allowed)"
            )
        rows = len(frame)
        ids = np.zeros((rows, len(self.categorical)), dtype=np.int64)
        for f, encoder in enumerate(self.categorical):
            ids[:, f] = encoder.transform(frame[encoder.name])
        dense = [encoder.transform(frame[encoder.name]) for encoder in self.numeric]
        values = (
            np.concatenate(dense, axis=1) if dense else np.zeros((rows, 0), np.float32)
        )
        return ids, values

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {
            "embedding_dim": self.embedding_dim,
            "categorical": [asdict(e) for e in self.categorical],
            "numeric": [asdict(e) for e in self.numeric],
            "context": [asdict(e) for e in self.context],
            "sequence": self.sequence.to_dict() if self.sequence else None,
            "domain_column": self.domain_column,
            "domains": list(self.domains),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureMap:
        """Rebuild a feature map from :meth:`to_dict` output."""
        sequence = None
        if data.get("sequence"):
            from mtlrec.features._sequence import SequenceEncoder

            sequence = SequenceEncoder.from_dict(data["sequence"])
        return cls(
            [CategoricalEncoder(**e) for e in data["categorical"]],
            [NumericEncoder(**e) for e in data["numeric"]],
            int(data["embedding_dim"]),
            [CategoricalEncoder(**e) for e in data.get("context", [])],
            sequence,
            data.get("domain_column"),
            list(data.get("domains", [])),
        )

    def save(self, path: str | Path) -> None:
        """Write the feature map as JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> FeatureMap:
        """Read a feature map written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def _domain_keys(frame: pd.DataFrame, column: str, where: str) -> pd.Series:
    if column not in frame.columns:
        raise ValueError(
            f"data.domain_column {column!r} is not a column of {where}"
            f"{columns_hint(column, frame.columns)}"
        )
    keys = canonical_strings(frame[column])
    if keys.isna().any():
        raise ValueError(
            f"domain column {column!r} in {where} has {int(keys.isna().sum())} "
            "missing values; every row needs a domain, so fill or drop them"
        )
    return keys.astype(str)


def _match(
    pattern: str, candidates: list[str], reserved: set[str], taken: set[str]
) -> list[str]:
    if pattern in reserved:
        raise ValueError(
            f"feature {pattern!r} is also a label, split or weight column, which "
            "cannot be an input; remove it from features"
        )
    names = [c for c in candidates if fnmatch.fnmatchcase(c, pattern)]
    if not names:
        raise ValueError(
            f"feature {pattern!r} matches no column of the training data"
            f"{columns_hint(pattern, candidates)}"
        )
    twice = [n for n in names if n in taken]
    if twice:
        raise ValueError(
            f"feature columns {twice!r} are declared twice; list each column once"
        )
    taken.update(names)
    return names
