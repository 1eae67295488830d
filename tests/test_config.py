"""Tests of mtlrec.config: loading, validation messages and overrides."""

from __future__ import annotations

import pytest

from mtlrec.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    load_config,
    parse_config,
)
from mtlrec.models import MMoEConfig, PLEConfig


def test_load_yaml_into_typed_objects(config_doc, write_yaml):
    config = load_config(write_yaml(config_doc()))

    assert isinstance(config, RunConfig)
    assert isinstance(config.model, MMoEConfig)
    assert config.model.num_experts == 2
    assert config.model.expert_units == [8]
    assert config.data.split.fractions == {"train": 0.6, "valid": 0.2, "test": 0.2}
    assert config.features.categorical[0].name == "user"
    assert config.features.categorical[0].min_count == 1
    assert config.features.numeric[0].scaling == "standard"
    assert config.task("click").type == "binary"
    assert config.task("click").loss == "bce"
    assert config.task("rating").loss == "mse"
    assert config.train.optimizer.lr == 0.01


def test_model_section_selects_registered_config_class(config_doc):
    config = parse_config(config_doc(model={"name": "ple", "num_levels": 3}))

    assert isinstance(config.model, PLEConfig)
    assert config.model.num_levels == 3


@pytest.mark.parametrize(
    ("path", "key", "match"),
    [
        ((), "epochs", r"'epochs' is not a known setting; did you mean 'train\.epochs"),
        ((), "csv_separator", r"did you mean 'data\.csv_separator'"),
        (("train",), "epoch", r"'train\.epoch'.*did you mean 'train\.epochs'"),
        (("train", "optimizer"), "learning_rate", r"'train\.optimizer\.learning_rate'"),
        (("data", "split"), "sed", r"'data\.split\.sed'.*mean 'data\.split\.seed'"),
        (("model",), "num_expert", r"'model\.num_expert'.*mean 'model\.num_experts'"),
    ],
)
def test_unknown_key_is_named_with_valid_keys(config_doc, path, key, match):
    document = config_doc()
    node = document
    for part in path:
        node = node[part]
    node[key] = 1

    with pytest.raises(ConfigError, match=match) as info:
        parse_config(document)
    assert "valid keys here" in str(info.value)


@pytest.mark.parametrize(
    ("override", "match"),
    [
        (
            "model.expert_units=16,8",
            r"'model\.expert_units': Input should be a valid list \(got '16,8'\); "
            r"write a list in brackets: model\.expert_units=\[16,8\]$",
        ),
        (
            "train.objective.0.task=click",
            r"'train\.objective': Input should be a valid list .*; the config has "
            r"no list here to index, so give the whole list: "
            r"train\.objective=\[\.\.\.\]$",
        ),
    ],
)
def test_a_list_override_in_the_wrong_form_names_the_fix(config_doc, override, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(config_doc(), [override])


def test_misspelt_required_section_is_named(config_doc):
    # The missing 'model' and the unknown 'modle' are one mistake: name it.
    document = config_doc()
    document["modle"] = document.pop("model")

    with pytest.raises(ConfigError, match=r"'modle'.*did you mean 'model'"):
        parse_config(document)


def test_unknown_key_inside_a_task_lists_task_keys(config_doc):
    document = config_doc()
    document["tasks"][1]["wieght"] = 2

    with pytest.raises(ConfigError, match=r"'tasks\.1\.wieght'.*'weight'"):
        parse_config(document)


def test_unknown_model_key_lists_that_models_keys(config_doc):
    document = config_doc(model={"name": "ple", "num_experts": 4})

    with pytest.raises(ConfigError, match=r"'model\.num_experts'") as info:
        parse_config(document)
    assert "num_task_experts" in str(info.value)


@pytest.mark.parametrize(
    ("section", "key", "value", "match"),
    [
        ("train", "epochs", "ten", r"'train\.epochs'.*valid integer.*'ten'"),
        ("train", "epochs", 0, r"'train\.epochs'.*greater than 0"),
        ("train", "batch_size", -4, r"'train\.batch_size'.*greater than 0"),
        ("model", "num_experts", 0, r"'model\.num_experts'.*greater than 0"),
        ("model", "expert_units", "wide", r"'model\.expert_units'"),
        ("model", "dropout", 1.5, r"'model\.dropout'.*less than 1"),
    ],
)
def test_wrong_types_and_impossible_values(config_doc, section, key, value, match):
    document = config_doc()
    document[section][key] = value

    with pytest.raises(ConfigError, match=match):
        parse_config(document)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (
            lambda d: d["data"]["split"].update(
                fractions={"train": 0.5, "valid": 0.2, "test": 0.2}
            ),
            r"split\.fractions must sum to 1",
        ),
        (
            lambda d: d["data"]["split"].update(fractions={"train": 1.0}),
            r"split\.fractions must name exactly .*; give all three, e\.g\. "
            r"data\.split\.fractions=\{train: 0\.9, valid: 0\.05, test: 0\.05\}",
        ),
        (
            lambda d: d["data"]["split"].update(method="column"),
            r"split\.method 'column' needs split\.column",
        ),
        (lambda d: d["data"].pop("path"), r"data\.path is required"),
        (
            lambda d: d["data"]["split"].update(method="files"),
            r"'files' needs data\.files",
        ),
        (
            lambda d: d["features"].update(categorical=[], numeric=[]),
            r"features needs at least one entry",
        ),
        (lambda d: d.update(tasks=[]), r"config key 'tasks'"),
        (lambda d: d.pop("tasks"), r"config key 'tasks' is required"),
        (
            lambda d: d["tasks"][0].update(loss="mse"),
            r"a binary task takes loss 'bce'",
        ),
        (
            lambda d: d["tasks"][1].update(loss="bce"),
            r"regression task takes loss 'mse', 'huber'",
        ),
        (
            lambda d: d["tasks"][1].update(positive_above=1.0),
            r"only apply to binary tasks",
        ),
        (
            lambda d: d["tasks"][0].update(positive_values=["a"], positive_above=1),
            r"positive_values or positive_above, not both",
        ),
        (
            lambda d: d["tasks"][1].update(name="click"),
            r"task names must be unique.*'click'",
        ),
        (lambda d: d["tasks"][0].update(weight=-1), r"'tasks\.0\.weight'"),
    ],
)
def test_impossible_settings(config_doc, mutate, match):
    document = config_doc()
    mutate(document)

    with pytest.raises(ConfigError, match=match):
        parse_config(document)


def test_unknown_model_name_lists_registered_models(config_doc):
    with pytest.raises(ConfigError, match=r"unknown model name 'mmeo'.*'mmoe'"):
        parse_config(config_doc(model={"name": "mmeo"}))


def test_model_section_without_name(config_doc):
    document = config_doc()
    document["model"] = {"num_experts": 2}

    with pytest.raises(ConfigError, match=r"'model' must be a mapping with a 'name'"):
        parse_config(document)


def test_parent_that_is_not_a_task(config_doc):
    tasks = [
        {"name": "click", "label": "click"},
        {"name": "conv", "label": "conv", "parent": "clik"},
    ]
    # The valid parents leave out the task itself.
    with pytest.raises(
        ConfigError,
        match=r"parent 'clik', which is not a task; valid parents are \['click'\]$",
    ):
        parse_config(config_doc(tasks=tasks))


def test_a_balancer_by_name_takes_its_defaults(config_doc):
    config = parse_config(config_doc(), ["train.balancer=dwa"])

    assert config.train.balancer.name == "dwa"
    assert (
        config.train.balancer
        == parse_config(config_doc(), ["train.balancer={name: dwa}"]).train.balancer
    )


def test_uba_svr_learnt_weights_refuse_a_learning_balancer(config_doc):
    document = config_doc(model={"name": "uba_svr"})

    with pytest.raises(
        ConfigError,
        match=r"model 'uba_svr' learns its own task-loss weights "
        r"\(model.dynamic_weights\), so train.balancer 'uncertainty' would weight "
        r"the tasks twice; set model.dynamic_weights=false to use the balancer$",
    ):
        parse_config(document, ["train.balancer=uncertainty"])

    plain = parse_config(
        document, ["train.balancer=uncertainty", "model.dynamic_weights=false"]
    )
    assert plain.train.balancer.name == "uncertainty"
    assert parse_config(document).train.balancer.name == "fixed"


def test_parent_must_be_binary(config_doc):
    tasks = [
        {"name": "rating", "label": "rating", "type": "regression"},
        {"name": "conv", "label": "conv", "parent": "rating"},
    ]
    with pytest.raises(ConfigError, match=r"parent 'rating' must be binary"):
        parse_config(config_doc(tasks=tasks))


@pytest.mark.parametrize(
    ("parents", "match"),
    [
        ({"a": "a"}, r"cycle: a -> a"),
        ({"a": "b", "b": "a"}, r"cycle: a -> b -> a"),
        ({"a": "c", "b": "a", "c": "b"}, r"cycle: a -> c -> b -> a"),
    ],
)
def test_parent_cycle(config_doc, parents, match):
    tasks = [
        {"name": name, "label": "click", "parent": parent}
        for name, parent in parents.items()
    ]
    with pytest.raises(ConfigError, match=match):
        parse_config(config_doc(tasks=tasks))


def test_parent_chain_is_accepted(config_doc):
    tasks = [
        {"name": "a", "label": "click"},
        {"name": "b", "label": "conv", "parent": "a"},
        {"name": "c", "label": "conv", "parent": "b"},
    ]
    config = parse_config(config_doc(tasks=tasks))

    assert [t.parent for t in config.tasks] == [None, "a", "b"]


def test_objective_naming_unknown_task(config_doc):
    train = {"objective": [{"task": "clicks", "metric": "auc"}]}

    with pytest.raises(ConfigError, match=r"names task 'clicks'.*'click'"):
        parse_config(config_doc(train=train))


def test_default_objective_uses_auc_and_mse(config_doc):
    config = parse_config(config_doc())

    terms = [(t.task, t.metric, t.direction, t.weight) for t in config.train.objective]
    assert terms == [("click", "auc", "max", 1.0), ("rating", "mse", "min", 1.0)]


@pytest.mark.parametrize(
    ("metric", "direction"),
    [("auc", "max"), ("gauc", "max"), ("logloss", "min"), ("rmse", "min")],
)
def test_objective_direction_defaults_to_metric(config_doc, metric, direction):
    train = {"objective": [{"task": "click", "metric": metric}]}

    config = parse_config(config_doc(train=train))

    assert config.train.objective[0].direction == direction


def test_dotted_overrides(config_doc):
    config = parse_config(
        config_doc(),
        [
            "model.num_experts=4",
            "tasks.0.weight=2",
            "train.optimizer.lr=0.05",
            "model.expert_units=[16, 8]",
            "train.progress_bar=true",
        ],
    )

    assert config.model.num_experts == 4
    assert config.tasks[0].weight == 2.0
    assert config.tasks[1].weight == 1.0
    assert config.train.optimizer.lr == 0.05
    assert config.model.expert_units == [16, 8]
    assert config.train.progress_bar is True


def test_override_creates_missing_sections(config_doc):
    document = config_doc()
    del document["train"]

    config = parse_config(document, ["train.optimizer.lr=0.01"])

    assert config.train.optimizer.lr == 0.01
    assert config.train.epochs == 10


def test_overrides_do_not_change_the_document(config_doc):
    document = config_doc()

    apply_overrides(document, ["model.num_experts=7"])

    assert document["model"]["num_experts"] == 2


def test_override_of_unknown_key_is_checked(config_doc):
    with pytest.raises(ConfigError, match=r"'model\.num_expert'.*'num_experts'"):
        parse_config(config_doc(), ["model.num_expert=4"])


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("model.num_experts", r"is not KEY=VALUE"),
        ("=4", r"is not KEY=VALUE"),
        ("tasks.5.weight=2", r"'5' is not an index below 2"),
        ("tasks.x.weight=2", r"'x' is not an index below 2"),
        ("train.epochs.x=2", r"'x' is inside a scalar value"),
        ("model.expert_units=[64,", r"value '\[64,' is not valid YAML"),
    ],
)
def test_bad_overrides(config_doc, override, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(config_doc(), [override])


def test_load_config_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config file .* does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_load_config_malformed_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: [unclosed\n")

    with pytest.raises(ConfigError, match=r"is not valid YAML") as caught:
        load_config(path)
    # One line, naming where the problem is.
    assert "\n" not in str(caught.value) and "line 2" in str(caught.value)


def test_config_must_be_a_mapping():
    with pytest.raises(ConfigError, match=r"must be a mapping, got list"):
        parse_config([1, 2])


def test_empty_file_reports_required_keys(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")

    with pytest.raises(ConfigError, match=r"config key 'data' is required"):
        load_config(path)


def test_dumped_config_parses_back_equal(config_doc):
    config = parse_config(config_doc(model={"name": "ple", "num_levels": 1}))

    again = parse_config(config.model_dump(mode="json"))

    assert again == config


def test_task_lookup_unknown_name(config_doc):
    config = parse_config(config_doc())

    with pytest.raises(KeyError, match=r"no task named 'like'"):
        config.task("like")


def test_pcgrad_refuses_sparse_embeddings(config_doc):
    document = config_doc()
    document["train"]["sparse_embeddings"] = True
    document["train"]["balancer"] = {"name": "pcgrad"}
    with pytest.raises(ConfigError, match="sparse_embeddings=false"):
        parse_config(document)
