"""Feature map: domains, training-only context and history features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtlrec.config import FeaturesConfig
from mtlrec.features import FeatureMap


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": [1, 1, 1, 2, 2],
            "item": ["a", "b", "c", "a", "b"],
            "kind": ["pv", "buy", "pv", "pv", "pv"],
            "ts": [1, 2, 3, 1, 1],
            "pos": [1, 2, 3, 1, 2],
            "region": ["x", "y", "x", "y", "y"],
        }
    )


def _config() -> FeaturesConfig:
    return FeaturesConfig.model_validate(
        {
            "categorical": [{"name": "item"}],
            "context": [{"name": "pos"}],
            "sequence": {
                "name": "hist",
                "key": "user",
                "order": "ts",
                "columns": ["item", "kind"],
                "max_length": 2,
            },
        }
    )


def test_history_ids_use_event_vocabularies() -> None:
    fmap = FeatureMap.fit(_frame(), _config(), set(), "region")
    assert fmap.sequence is not None
    ids, lengths = fmap.sequence.transform(_frame())
    assert lengths.tolist() == [0, 1, 2, 0, 0]
    item = fmap.sequence.channels[0].vocabulary
    kind = fmap.sequence.channels[1].vocabulary
    # Row 2 (user 1, time 3) sees items a then b, with kinds pv then buy.
    assert ids[2].tolist() == [
        [item.index("a") + 1, kind.index("pv") + 1],
        [item.index("b") + 1, kind.index("buy") + 1],
    ]
    assert ids[0].tolist() == [[0, 0], [0, 0]]


def test_domains_context_and_json_round_trip(tmp_path) -> None:
    fmap = FeatureMap.fit(_frame(), _config(), set(), "region")
    assert fmap.domains == ["x", "y"]
    assert fmap.transform_domains(_frame()).tolist() == [0, 1, 0, 1, 1]
    assert fmap.transform_context(_frame().drop(columns="pos")).tolist() == [[0]] * 5
    fmap.save(tmp_path / "map.json")
    loaded = FeatureMap.load(tmp_path / "map.json")
    assert loaded.domains == ["x", "y"]
    assert loaded.sequence is not None
    assert np.array_equal(
        loaded.sequence.transform(_frame())[0], fmap.sequence.transform(_frame())[0]
    )


def test_domain_column_with_missing_values_is_rejected() -> None:
    frame = _frame()
    frame.loc[2, "region"] = None
    with pytest.raises(ValueError, match="domain column 'region'.*1 missing values"):
        FeatureMap.fit(frame, _config(), set(), "region")


def test_unseen_domain_is_rejected() -> None:
    fmap = FeatureMap.fit(_frame(), _config(), set(), "region")
    other = _frame().assign(region="z")
    with pytest.raises(ValueError, match="values \\['z'\\] absent from training"):
        fmap.transform_domains(other, "split 'test'")


def test_history_columns_must_exist() -> None:
    config = _config()
    config.sequence.columns = ["item", "nope"]
    with pytest.raises(ValueError, match="names columns \\['nope'\\]"):
        FeatureMap.fit(_frame(), config, set())


def _column_config(max_length: int = 3) -> FeaturesConfig:
    return FeaturesConfig.model_validate(
        {
            "categorical": [{"name": "item"}],
            "sequence": {
                "name": "hist",
                "source": "column",
                "columns": ["items", "kinds"],
                "max_length": max_length,
            },
        }
    )


def _column_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item": ["a", "b", "c"],
            "items": ["a|b", "", "b|b|c"],
            "kinds": ["pv|buy", None, "pv|pv|pv"],
        }
    )


def test_prebuilt_histories_are_parsed_and_padded() -> None:
    fmap = FeatureMap.fit(_column_frame(), _column_config(), set())
    assert fmap.sequence is not None
    ids, lengths = fmap.sequence.transform(_column_frame())
    vocab = fmap.sequence.channels[0].vocabulary
    assert lengths.tolist() == [2, 0, 3]
    assert ids[:, :, 0].tolist() == [
        [vocab.index("a") + 1, vocab.index("b") + 1, 0],
        [0, 0, 0],
        [vocab.index("b") + 1, vocab.index("b") + 1, vocab.index("c") + 1],
    ]


def test_prebuilt_history_longer_than_declared_is_rejected() -> None:
    with pytest.raises(ValueError, match="1 histories longer than max_length=2"):
        FeatureMap.fit(_column_frame(), _column_config(max_length=2), set())


def test_prebuilt_channels_must_have_equal_lengths() -> None:
    fmap = FeatureMap.fit(_column_frame(), _column_config(), set())
    bad = _column_frame().assign(kinds=["pv", "", "pv|pv|pv"])
    with pytest.raises(ValueError, match="different lengths"):
        fmap.sequence.transform(bad)


def test_log_source_needs_key_and_order() -> None:
    with pytest.raises(ValueError, match="needs key and order"):
        FeaturesConfig.model_validate(
            {
                "categorical": [{"name": "item"}],
                "sequence": {"name": "h", "columns": ["item"]},
            }
        )
