"""Tests of run directories: train, load, evaluate and predict."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file
from sklearn.metrics import mean_squared_error, roc_auc_score

from mtlrec import evaluate, load_run, parse_config, predict, train
from mtlrec.features import FeatureMap
from mtlrec.training import RunExistsError, _trainer

RUN_FILES = {
    "config.yaml",
    "run.json",
    "feature_map.json",
    "model.safetensors",
    "history.json",
    "metrics.json",
    "predictions_test.parquet",
    "labels_test.parquet",
    "gates_test.json",
}


def assert_metrics_close(got, expected):
    assert set(got) == set(expected)
    for task, values in expected.items():
        assert set(got[task]) == set(values), task
        for name, value in values.items():
            if value is None:
                assert got[task][name] is None, (task, name)
            else:
                assert got[task][name] == pytest.approx(value, rel=1e-6), (task, name)


def test_run_directory_contents(finished_run):
    run_dir = finished_run["run_dir"]

    assert {p.name for p in run_dir.iterdir()} == RUN_FILES
    weights = load_file(str(run_dir / "model.safetensors"))
    assert "experts.weights.0" in weights
    config = parse_config(yaml.safe_load((run_dir / "config.yaml").read_text()))
    assert [t.name for t in config.tasks] == ["click", "conv", "rating"]
    FeatureMap.load(run_dir / "feature_map.json")
    history = json.loads((run_dir / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["best_epoch"] in (1, 2)
    assert metrics["valid_objective"] == max(r["objective"] for r in history)
    assert set(metrics["test"]) == {"click", "conv", "conv@entire", "rating"}
    info = json.loads((run_dir / "run.json").read_text())
    assert info["rows"] == {"train": 200, "valid": 60, "test": 60}
    assert info["model"] == "mmoe"


def test_test_metrics_cover_the_whole_split(finished_run):
    # eval_batch_size (16) is smaller than the 60-row test split.
    run_dir = finished_run["run_dir"]
    metrics = json.loads((run_dir / "metrics.json").read_text())["test"]
    scores = pd.read_parquet(run_dir / "predictions_test.parquet")
    test = pd.read_csv(finished_run["data_dir"] / "test.csv")
    clicked = test["click"] == 1

    assert len(scores) == 60
    assert metrics["click"]["auc"] == pytest.approx(
        roc_auc_score(test["click"], scores["click"])
    )
    assert metrics["conv"]["auc"] == pytest.approx(
        roc_auc_score(test["conv"][clicked], scores["conv"][clicked])
    )
    assert metrics["rating"]["mse"] == pytest.approx(
        mean_squared_error(test["rating"], scores["rating"]), rel=1e-5
    )


def test_evaluate_reproduces_test_metrics(finished_run):
    run_dir = finished_run["run_dir"]
    stored = json.loads((run_dir / "metrics.json").read_text())

    for split in ("test", "valid"):
        assert_metrics_close(evaluate(run_dir, split=split), stored[split])


def test_evaluate_a_labelled_file(finished_run):
    run_dir = finished_run["run_dir"]
    stored = json.loads((run_dir / "metrics.json").read_text())

    metrics = evaluate(run_dir, data=finished_run["data_dir"] / "test.csv")

    assert_metrics_close(metrics, stored["test"])


def test_evaluate_unknown_split(finished_run):
    with pytest.raises(ValueError, match=r"split must be 'train', 'valid' or 'test'"):
        evaluate(finished_run["run_dir"], split="dev")


def test_predict_matches_the_stored_test_predictions(finished_run):
    run_dir = finished_run["run_dir"]
    test = pd.read_csv(finished_run["data_dir"] / "test.csv")

    scores = predict(run_dir, test.drop(columns=["click", "conv", "rating"]))

    stored = pd.read_parquet(run_dir / "predictions_test.parquet")
    pd.testing.assert_frame_equal(scores, stored)


def test_load_run_restores_an_eval_model(finished_run):
    run = load_run(finished_run["run_dir"])

    assert not run.model.training
    assert run.info["model"] == "mmoe"
    assert run.feature_map.columns == ["user", "item", "x1", "x2"]


def test_load_run_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"is not a trained run: config\.yaml"):
        load_run(tmp_path)


def test_load_run_with_weights_of_another_layout_is_one_line(tmp_path, finished_run):
    # E.g. a run written before expert weights moved to (E, out, in).
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run["run_dir"], run_dir)
    weights = load_file(run_dir / "model.safetensors")
    weights["experts.weights.0"] = weights["experts.weights.0"].mT.contiguous()
    save_file(weights, run_dir / "model.safetensors")

    with pytest.raises(ValueError, match=r"do not fit the model") as info:
        load_run(run_dir)
    assert "\n" not in str(info.value) and "experts.weights.0" in str(info.value)


def test_vocabulary_is_fitted_on_the_train_split_only(
    tmp_path, split_files, frame_maker, config_maker
):
    test = frame_maker(60, seed=2)
    test.loc[:5, "user"] = "only-in-test"
    test.loc[:5, "x1"] = 1000.0
    data = split_files(tmp_path / "data", test=test)
    document = config_maker("unused", data=data)

    run_dir = train(
        parse_config(document), data_dir=tmp_path / "data", out=tmp_path / "r"
    )

    fmap = FeatureMap.load(run_dir / "feature_map.json")
    train_frame = pd.read_csv(tmp_path / "data" / "train.csv")
    assert "only-in-test" not in fmap.categorical[0].vocabulary
    assert set(fmap.categorical[0].vocabulary) == set(train_frame["user"])
    assert fmap.numeric[0].center == pytest.approx(train_frame["x1"].mean())


def test_selection_never_uses_the_test_split(
    tmp_path, split_files, frame_maker, config_maker
):
    runs = {}
    for name, seed in (("real", None), ("random", 7)):
        test = frame_maker(60, seed=2)
        if seed is not None:
            rng = np.random.default_rng(seed)
            test["click"] = rng.integers(0, 2, 60)
            test["rating"] = rng.normal(size=60)
        data = split_files(tmp_path / name, test=test)
        document = config_maker("unused", data=data, train={"epochs": 3, "patience": 3})
        runs[name] = train(
            parse_config(document),
            data_dir=tmp_path / name,
            out=tmp_path / f"run-{name}",
        )

    def selection(run_dir):
        history = json.loads((run_dir / "history.json").read_text())
        metrics = json.loads((run_dir / "metrics.json").read_text())
        return (
            [(r["objective"], r["valid"], r["train_loss"]) for r in history],
            metrics["best_epoch"],
            metrics["valid"],
        )

    real, random = runs["real"], runs["random"]
    assert selection(real) == selection(random)
    assert (real / "model.safetensors").read_bytes() == (
        random / "model.safetensors"
    ).read_bytes()
    test_auc = [
        json.loads((r / "metrics.json").read_text())["test"]["click"]["auc"]
        for r in (real, random)
    ]
    assert test_auc[0] != test_auc[1]


def test_early_stop_restores_the_best_epoch_in_the_run(
    tmp_path, tiny_csv, config_doc, monkeypatch
):
    objectives = [0.5, 0.8, 0.6, 0.7, 0.99]
    monkeypatch.setattr(
        _trainer, "objective_value", lambda metrics, terms: objectives.pop(0)
    )
    validated = []
    original = _trainer.predict_scores

    def spy(model, data, batch_size, precision):
        validated.append({k: v.clone() for k, v in model.state_dict().items()})
        return original(model, data, batch_size, precision)

    monkeypatch.setattr(_trainer, "predict_scores", spy)
    document = config_doc(train={"epochs": 5, "patience": 2})

    run_dir = train(parse_config(document), out=tmp_path / "run")

    history = json.loads((run_dir / "history.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [r["objective"] for r in history] == [0.5, 0.8, 0.6, 0.7]
    assert metrics["best_epoch"] == 2
    assert metrics["valid_objective"] == 0.8
    saved = load_file(str(run_dir / "model.safetensors"))
    assert len(validated) == 4
    assert all(torch.equal(saved[k], v) for k, v in validated[1].items())
    assert not all(torch.equal(saved[k], v) for k, v in validated[3].items())
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]


def test_one_class_valid_task_gets_null_auc_and_one_warning(
    tmp_path, split_files, frame_maker, config_maker, caplog
):
    valid = frame_maker(60, seed=1)
    valid["like"] = 0
    frames = {"valid": valid}
    for split, seed in (("train", 0), ("test", 2)):
        frame = frame_maker(200 if split == "train" else 60, seed=seed)
        frame["like"] = (frame["x2"].fillna(0) > 0).astype(int)
        frames[split] = frame
    data = split_files(tmp_path / "data", **frames)
    tasks = [{"name": "click", "label": "click"}, {"name": "like", "label": "like"}]
    document = config_maker(
        "unused", data=data, tasks=tasks, train={"epochs": 3, "patience": 3}
    )

    with caplog.at_level(logging.WARNING, logger="mtlrec"):
        run_dir = train(
            parse_config(document), data_dir=tmp_path / "data", out=tmp_path / "r"
        )

    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = json.loads((run_dir / "history.json").read_text())
    assert metrics["valid"]["like"]["auc"] is None
    assert metrics["test"]["like"]["auc"] is not None
    assert all(r["valid"]["like"]["auc"] is None for r in history)
    # The objective falls back on the terms that are known.
    assert history[0]["objective"] == history[0]["valid"]["click"]["auc"]
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "like" in r.getMessage()
    ]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "model selection leaves it out of the objective" in warnings[0].getMessage()


def test_uba_svr_records_its_learnt_task_weights(tmp_path, config_doc):
    document = config_doc(
        model={"name": "uba_svr", "expert_units": [8], "tower_units": [8]},
        train={"epochs": 3, "patience": 3},
    )

    run_dir = train(parse_config(document), out=tmp_path / "run")

    history = json.loads((run_dir / "history.json").read_text())
    best = json.loads((run_dir / "metrics.json").read_text())["best_epoch"]
    learnt = [record["model_task_weights"] for record in history]
    assert all(set(w) == {"click", "rating"} for w in learnt)
    assert all(record["balancer"]["name"] == "fixed" for record in history)
    assert learnt[0] != learnt[-1]  # the weights move while training
    model = load_run(run_dir).model
    expected = torch.exp(-model.log_vars.detach()).tolist()
    assert list(learnt[best - 1].values()) == pytest.approx(expected)
    gates = json.loads((run_dir / "gates_test.json").read_text())
    assert set(gates["mean_weight"]) == {"click", "rating"}
    assert set(gates["mean_weight"]["click"]) == {"click_0", "shared_0"}


def _drop(column):
    return lambda frame: frame.drop(columns=column)


def _set(column, value):
    def change(frame):
        frame = frame.copy()
        frame[column] = frame[column].astype(object)
        frame.loc[3, column] = value
        return frame

    return change


BAD_DATA = [
    pytest.param(
        _drop("x1"), ValueError, r"feature 'x1' matches no column", id="no-feature"
    ),
    pytest.param(
        _drop("click"),
        ValueError,
        r"label column 'click' is not in split",
        id="no-label",
    ),
    pytest.param(
        _set("click", 2), ValueError, r"binary labels must be 0 or 1", id="label-2"
    ),
    pytest.param(
        _set("click", "yes"),
        ValueError,
        r"non-numeric values such as 'yes'",
        id="label-str",
    ),
    pytest.param(
        _set("click", np.nan), ValueError, r"'click'.*1 missing values", id="label-nan"
    ),
    pytest.param(
        _set("rating", np.nan), ValueError, r"'rating'.*1 missing values", id="reg-nan"
    ),
    pytest.param(
        lambda frame: frame.assign(click=0, conv=0),
        ValueError,
        r"task 'click' has no positive labels among the \d+ rows of split 'train'",
        id="train-all-0",
    ),
]


@pytest.mark.parametrize(("mutate", "error", "match"), BAD_DATA)
def test_bad_data_is_refused_before_the_run_directory_exists(
    tmp_path, tiny_frame, config_doc, mutate, error, match
):
    path = tmp_path / "bad.csv"
    mutate(tiny_frame).to_csv(path, index=False)
    document = config_doc()
    document["data"]["path"] = str(path)

    with pytest.raises(error, match=match):
        train(parse_config(document), out=tmp_path / "run")

    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("content", "match"),
    [("", r"is empty"), ("user,item,x1,x2,click,conv,rating\n", r"header but no rows")],
    ids=["empty", "header-only"],
)
def test_empty_files_are_refused(tmp_path, config_doc, content, match):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    document = config_doc()
    document["data"]["path"] = str(path)

    with pytest.raises(ValueError, match=match):
        train(parse_config(document), out=tmp_path / "run")

    assert not (tmp_path / "run").exists()


def test_data_folder_without_census_files(tmp_path, config_doc):
    (tmp_path / "census").mkdir()
    document = config_doc(data={"format": "census_income", "path": "census"})

    with pytest.raises(FileNotFoundError, match=r"no census-income"):
        train(parse_config(document), data_dir=tmp_path, out=tmp_path / "run")

    assert not (tmp_path / "run").exists()


def test_label_declared_as_feature(tmp_path, config_doc):
    document = config_doc()
    document["features"]["numeric"].append({"name": "rating"})

    with pytest.raises(ValueError, match=r"feature 'rating' is also a label"):
        train(parse_config(document), out=tmp_path / "run")

    assert not (tmp_path / "run").exists()


def test_group_column_may_also_be_a_named_feature(tmp_path, config_doc):
    document = config_doc()  # "user" is a categorical feature
    document["data"]["group_column"] = "user"

    run_dir = train(parse_config(document), out=tmp_path / "run")

    feature_map = load_run(run_dir).feature_map
    assert "user" in [e.name for e in feature_map.categorical]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"]["click"]["gauc"] is not None


def test_group_column_is_left_out_of_wildcard_features(tmp_path, config_doc):
    document = config_doc()
    document["features"]["categorical"] = [{"name": "*"}]
    document["features"]["numeric"] = []
    document["features"]["exclude"] = ["x1", "x2", "click", "conv", "rating"]
    document["data"]["group_column"] = "user"

    run_dir = train(parse_config(document), out=tmp_path / "run")

    assert [e.name for e in load_run(run_dir).feature_map.categorical] == ["item"]


def test_model_refusing_the_task_layout(tmp_path, config_doc):
    document = config_doc(model={"name": "esmm", "hidden_units": [4]})

    with pytest.raises(ValueError, match=r"esmm needs two binary tasks"):
        train(parse_config(document), out=tmp_path / "run")

    assert not (tmp_path / "run").exists()


def _snapshot(run_dir):
    return {p.name: p.read_bytes() for p in run_dir.iterdir()}


def test_finished_run_is_not_overwritten(tmp_path, config_doc):
    config = parse_config(config_doc(train={"epochs": 1}))
    run_dir = train(config, out=tmp_path / "run")
    before = _snapshot(run_dir)

    with pytest.raises(
        RunExistsError, match=r"already holds a finished run.*out=.*overwrite=True"
    ):
        train(config, out=run_dir)

    assert _snapshot(run_dir) == before


def test_overwrite_replaces_a_finished_run(tmp_path, config_doc):
    run_dir = train(parse_config(config_doc(train={"epochs": 1})), out=tmp_path / "run")
    (run_dir / "stale.txt").write_text("old")

    train(parse_config(config_doc(train={"epochs": 2})), out=run_dir, overwrite=True)

    assert {p.name for p in run_dir.iterdir()} == RUN_FILES
    assert len(json.loads((run_dir / "history.json").read_text())) == 2


def test_overwrite_with_bad_data_keeps_the_old_run(tmp_path, tiny_frame, config_doc):
    run_dir = train(parse_config(config_doc(train={"epochs": 1})), out=tmp_path / "run")
    before = _snapshot(run_dir)
    bad = tmp_path / "bad.csv"
    tiny_frame.drop(columns="click").to_csv(bad, index=False)
    document = config_doc()
    document["data"]["path"] = str(bad)

    with pytest.raises(ValueError, match=r"label column 'click'"):
        train(parse_config(document), out=run_dir, overwrite=True)

    assert _snapshot(run_dir) == before


def test_interrupted_run_folder_is_refused(tmp_path, config_doc):
    (tmp_path / "run").mkdir()
    for name in ("config.yaml", "feature_map.json", "history.json"):
        (tmp_path / "run" / name).write_text("{}")

    with pytest.raises(RunExistsError, match=r"holds an interrupted run.*--overwrite"):
        train(parse_config(config_doc()), out=tmp_path / "run")


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_that_is_not_a_run_is_never_replaced(tmp_path, config_doc, overwrite):
    folder = tmp_path / "mine"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "keep.txt").write_text("keep")
    (folder / "data.csv").write_text("a,b\n1,2\n")
    (folder / "config.yaml").write_text("my own config")
    before = _tree(folder)

    with pytest.raises(
        RunExistsError,
        match=r"holds files that are not an mtlrec run \('config.yaml', 'data.csv', "
        r"'sub'\); choose a new or empty one .*--overwrite replaces only an earlier "
        r"run$",
    ):
        train(parse_config(config_doc()), out=folder, overwrite=overwrite)

    assert _tree(folder) == before


def _tree(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.*")}


def test_output_that_is_a_file(tmp_path, config_doc):
    (tmp_path / "run").write_text("x")

    with pytest.raises(RunExistsError, match=r"is a file; choose a directory"):
        train(parse_config(config_doc()), out=tmp_path / "run")


def test_empty_existing_folder_is_used(tmp_path, config_doc):
    (tmp_path / "run").mkdir()

    run_dir = train(parse_config(config_doc(train={"epochs": 1})), out=tmp_path / "run")

    assert (run_dir / "metrics.json").is_file()


def test_metrics_keep_task_names_when_tasks_are_reordered(
    tmp_path, split_files, config_maker
):
    data = split_files(tmp_path / "data")
    test = pd.read_csv(tmp_path / "data" / "test.csv")
    tasks = [
        {"name": "click", "label": "click"},
        {"name": "rating", "label": "rating", "type": "regression"},
    ]
    for order in (tasks, tasks[::-1]):
        document = config_maker("unused", data=data, tasks=order)
        run_dir = train(
            parse_config(document),
            data_dir=tmp_path / "data",
            out=tmp_path / order[0]["name"],
        )
        metrics = json.loads((run_dir / "metrics.json").read_text())["test"]
        scores = pd.read_parquet(run_dir / "predictions_test.parquet")
        assert list(metrics) == [t["name"] for t in order]
        assert metrics["click"]["auc"] == pytest.approx(
            roc_auc_score(test["click"], scores["click"])
        )
        assert metrics["click"]["auc"] > 0.7
        assert metrics["rating"]["mse"] == pytest.approx(
            mean_squared_error(test["rating"], scores["rating"]), rel=1e-5
        )
        assert "auc" not in metrics["rating"] and "mse" not in metrics["click"]


def test_evaluate_on_a_file_names_the_file_in_warnings(tmp_path, finished_run, caplog):
    frame = pd.read_csv(finished_run["data_dir"] / "test.csv")
    frame["click"] = 0  # one class only: the AUC is null, with a warning
    frame["conv"] = 0
    path = tmp_path / "no_clicks.csv"
    frame.to_csv(path, index=False)

    with caplog.at_level(logging.WARNING):
        metrics = evaluate(finished_run["run_dir"], data=path)

    assert metrics["click"]["auc"] is None
    warned = [
        r.getMessage() for r in caplog.records if "one label class" in r.getMessage()
    ]
    assert warned
    assert all(str(path) in m and "split=test" not in m for m in warned)
    assert all("positive_values" in m for m in warned)
