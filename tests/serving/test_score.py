"""Tests of mtlrec/serving/_score.py and the ``serving`` config section."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from mtlrec import ConfigError, parse_config
from mtlrec.config import ScoreConfig, ServingConfig
from mtlrec.serving import fuse_scores, score_weights

CONFIG = Path(__file__).parents[1] / "data" / "serving" / "mmoe.yaml"

PREDICTIONS = {
    "click": np.array([0.5, 0.2], np.float32),
    "buy": np.array([0.25, 0.0], np.float32),
    "buy@entire": np.array([0.125, 0.0], np.float32),
    "dwell": np.array([4.0, 2.0], np.float32),
}
TASKS = ["click", "buy", "dwell"]


def test_weighted_product():
    config = ScoreConfig(type="weighted_product", weights={"click": 1.0, "dwell": 0.5})
    # 0.5 * 4 ** 0.5 = 1.0; 0.2 * 2 ** 0.5 = 0.28284...
    np.testing.assert_allclose(
        fuse_scores(PREDICTIONS, config, TASKS), [1.0, 0.2 * 2**0.5], rtol=1e-6
    )


def test_weighted_product_floors_zero():
    config = ScoreConfig(type="weighted_product", weights={"buy@entire": 1.0})
    np.testing.assert_allclose(
        fuse_scores(PREDICTIONS, config, TASKS), [0.125, 1e-12], rtol=1e-6
    )


def test_weighted_sum():
    config = ScoreConfig(type="weighted_sum", weights={"click": 2.0, "dwell": -0.25})
    # 2 * 0.5 - 0.25 * 4 = 0; 2 * 0.2 - 0.25 * 2 = -0.1.
    np.testing.assert_allclose(
        fuse_scores(PREDICTIONS, config, TASKS), [0.0, -0.1], atol=1e-7
    )


def test_default_weights_are_one_per_task():
    config = ScoreConfig()
    assert config.type == "weighted_product"
    assert score_weights(config, TASKS) == {"click": 1.0, "buy": 1.0, "dwell": 1.0}
    # 0.5 * 0.25 * 4 = 0.5; 0.2 * 1e-12 * 2.
    np.testing.assert_allclose(
        fuse_scores(PREDICTIONS, config, TASKS), [0.5, 0.4e-12], rtol=1e-6
    )


def test_fuse_scores_refuses_an_unknown_name():
    config = ScoreConfig(weights={"like": 1.0})
    with pytest.raises(KeyError, match="score weights name \\['like'\\]"):
        fuse_scores(PREDICTIONS, config, TASKS)


def test_serving_defaults():
    config = ServingConfig()
    assert (config.max_batch_rows, config.max_body_bytes) == (1024, 4 * 1024 * 1024)


def _document() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def test_run_config_reads_the_serving_section():
    config = parse_config(_document())
    assert config.serving.score.weights == {"click": 1.0, "buy@entire": 0.5}
    assert config.serving.max_batch_rows == 8


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "serving.score.weights={like: 1}",
            "serving.score.weights names \\['like'\\], which the model does not "
            "predict; valid names are \\['click', 'buy', 'dwell', 'buy@entire'\\]",
        ),
        ("serving.score.weights={click: .nan}", "must be finite numbers"),
        ("serving.score.type=max", "serving.score.type"),
        ("serving.max_batch_rows=0", "serving.max_batch_rows"),
        ("serving.max_rows=5", "'serving.max_rows' is not a known setting"),
    ],
)
def test_run_config_refuses_bad_serving(override, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(_document(), [override])
