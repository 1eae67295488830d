"""Tests of mtlrec.features: encoders fitted on train, save/load, column rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtlrec.config import FeaturesConfig
from mtlrec.features import (
    CategoricalEncoder,
    FeatureMap,
    NumericEncoder,
    canonical_strings,
)


def test_canonical_strings_integral_floats_match_ints():
    as_float = canonical_strings(pd.Series([3.0, np.nan, 2.5, -1.0]))
    as_int = canonical_strings(pd.Series([3, 7, -1]))
    as_text = canonical_strings(pd.Series([" 3", "x "]))

    assert as_float.tolist()[0] == "3" == as_int.tolist()[0] == as_text.tolist()[0]
    assert as_float.isna().tolist() == [False, True, False, False]
    assert as_float.tolist()[2] == "2.5"
    assert as_float.tolist()[3] == "-1" == as_int.tolist()[2]
    assert as_text.tolist()[1] == "x"


def test_vocabulary_orders_by_count_then_value():
    column = pd.Series(["b", "a", "c", "a", "b", "d"], name="f")

    encoder = CategoricalEncoder.fit(column, min_count=1)

    assert encoder.vocabulary == ["a", "b", "c", "d"]
    assert encoder.size == 5
    np.testing.assert_array_equal(
        encoder.transform(pd.Series(["a", "b", "c", "d"])), [1, 2, 3, 4]
    )


def test_vocabulary_does_not_depend_on_row_order():
    column = pd.Series(["x", "y", "y", "z", "x", "w"], name="f")

    first = CategoricalEncoder.fit(column, 1)
    second = CategoricalEncoder.fit(column[::-1].reset_index(drop=True), 1)

    assert first.vocabulary == second.vocabulary


def test_min_count_sends_rare_values_to_oov():
    column = pd.Series(["a", "a", "a", "b", "b", "c"], name="f")

    encoder = CategoricalEncoder.fit(column, min_count=2)

    assert encoder.vocabulary == ["a", "b"]
    np.testing.assert_array_equal(encoder.transform(column), [1, 1, 1, 2, 2, 0])


def test_unseen_and_missing_share_oov_id_zero():
    encoder = CategoricalEncoder.fit(pd.Series(["a", "b", None], name="f"), 1)

    ids = encoder.transform(pd.Series(["b", "zzz", None, np.nan, "a"]))

    np.testing.assert_array_equal(ids, [2, 0, 0, 0, 1])
    assert "zzz" not in encoder.vocabulary
    assert len(encoder.vocabulary) == 2


def test_integral_floats_and_ints_give_the_same_ids():
    # A column read with missing values is float; without, int.
    encoder = CategoricalEncoder.fit(pd.Series([3, 5, 3], name="f"), 1)

    from_float = encoder.transform(pd.Series([3.0, 5.0, np.nan]))
    from_text = encoder.transform(pd.Series(["3", "5", None]))

    np.testing.assert_array_equal(from_float, [1, 2, 0])
    np.testing.assert_array_equal(from_text, [1, 2, 0])


def test_standard_scaling_by_hand():
    encoder = NumericEncoder.fit(pd.Series([1.0, 2.0, 3.0, 6.0], name="x"), "standard")
    mean = 3.0
    std = np.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + 0 + (6 - 3) ** 2) / 4)

    out = encoder.transform(pd.Series([3.0, 6.0, 0.0]))

    assert encoder.center == pytest.approx(mean)
    assert encoder.scale == pytest.approx(std)
    assert encoder.width == 1
    np.testing.assert_allclose(out[:, 0], [0.0, 3 / std, -3 / std], rtol=1e-6)


def test_minmax_scaling_by_hand():
    encoder = NumericEncoder.fit(pd.Series([2.0, 4.0, 10.0], name="x"), "minmax")

    out = encoder.transform(pd.Series([2.0, 6.0, 10.0, 14.0]))

    np.testing.assert_allclose(out[:, 0], [0.0, 0.5, 1.0, 1.5])


def test_no_scaling_and_constant_column():
    unscaled = NumericEncoder.fit(pd.Series([2.0, 4.0], name="x"), "none")
    constant = NumericEncoder.fit(pd.Series([5.0, 5.0], name="x"), "standard")

    np.testing.assert_allclose(unscaled.transform(pd.Series([7.0]))[:, 0], [7.0])
    assert constant.scale == 1.0
    np.testing.assert_allclose(constant.transform(pd.Series([5.0, 6.0]))[:, 0], [0, 1])


def test_missing_numerics_are_filled_with_train_mean_and_flagged():
    encoder = NumericEncoder.fit(pd.Series([1.0, np.nan, 5.0, 3.0], name="x"), "minmax")

    out = encoder.transform(pd.Series([np.nan, 1.0, 5.0]))

    assert encoder.fill == pytest.approx(3.0)
    assert encoder.flag_missing and encoder.width == 2
    np.testing.assert_allclose(out, [[0.5, 1.0], [0.0, 0.0], [1.0, 0.0]])
    assert out.dtype == np.float32


def test_no_flag_when_train_has_no_missing_values():
    encoder = NumericEncoder.fit(pd.Series([1.0, 3.0], name="x"), "standard")

    out = encoder.transform(pd.Series([np.nan]))

    assert out.shape == (1, 1)
    assert out[0, 0] == pytest.approx(0.0)


def test_non_numeric_values_in_numeric_feature():
    with pytest.raises(ValueError, match=r"numeric feature 'x' holds non-numeric"):
        NumericEncoder.fit(pd.Series(["1", "abc"], name="x"), "standard")


def features_config(**kwargs):
    defaults = {
        "categorical": [{"name": "user"}, {"name": "item"}],
        "numeric": [{"name": "x1"}, {"name": "x2", "scaling": "minmax"}],
        "embedding_dim": 8,
    }
    return FeaturesConfig(**{**defaults, **kwargs})


def test_feature_map_fits_on_the_given_frame_only(tiny_frame):
    train, test = tiny_frame.iloc[:100], tiny_frame.iloc[100:].copy()
    test.loc[test.index[0], "user"] = "new-user"

    fmap = FeatureMap.fit(train, features_config(), reserved={"click"})

    user = fmap.categorical[0]
    assert set(user.vocabulary) == set(train["user"])
    assert fmap.numeric[0].center == pytest.approx(train["x1"].mean())
    ids, _ = fmap.transform(test)
    assert ids[0, 0] == 0


def test_feature_map_layout(tiny_frame):
    fmap = FeatureMap.fit(tiny_frame, features_config(), reserved=set())

    ids, dense = fmap.transform(tiny_frame)

    assert fmap.columns == ["user", "item", "x1", "x2"]
    assert fmap.vocab_sizes == (9, 13)
    # x2 has missing values, so it brings a flag column.
    assert fmap.num_dense == 3
    assert ids.shape == (240, 2) and ids.dtype == np.int64
    assert dense.shape == (240, 3) and dense.dtype == np.float32
    assert ids.min() >= 1
    np.testing.assert_array_equal(dense[:, 2], tiny_frame["x2"].isna())


def test_save_load_round_trip_gives_identical_encodings(tmp_path, tiny_frame):
    fmap = FeatureMap.fit(tiny_frame.iloc[:150], features_config(), reserved=set())
    fmap.save(tmp_path / "fm.json")

    loaded = FeatureMap.load(tmp_path / "fm.json")

    assert loaded == fmap
    for original, again in zip(
        fmap.transform(tiny_frame), loaded.transform(tiny_frame), strict=True
    ):
        np.testing.assert_array_equal(original, again)


def test_globs_and_exclude():
    frame = pd.DataFrame(
        {"c1": ["a"], "c2": ["b"], "c_id": ["z"], "n1": [1.0], "n2": [2.0], "y": [1]}
    )
    config = FeaturesConfig(
        categorical=[{"name": "c*"}],
        numeric=[{"name": "n?"}],
        exclude=["c_id"],
    )

    fmap = FeatureMap.fit(frame, config, reserved={"y"})

    assert fmap.columns == ["c1", "c2", "n1", "n2"]


def test_glob_never_matches_reserved_columns():
    frame = pd.DataFrame({"f_a": [1.0], "f_label": [1]})
    config = FeaturesConfig(numeric=[{"name": "f_*"}])

    fmap = FeatureMap.fit(frame, config, reserved={"f_label"})

    assert fmap.columns == ["f_a"]


def test_label_declared_as_feature_is_an_error(tiny_frame):
    config = features_config(categorical=[{"name": "click"}])

    with pytest.raises(ValueError, match=r"feature 'click' is also a label"):
        FeatureMap.fit(tiny_frame, config, reserved={"click"})


def test_feature_matching_no_column(tiny_frame):
    config = features_config(numeric=[{"name": "x9"}])

    with pytest.raises(ValueError, match=r"feature 'x9' matches no column"):
        FeatureMap.fit(tiny_frame, config, reserved=set())


def test_misspelt_feature_gets_a_suggestion_and_a_marked_column_list():
    frame = pd.DataFrame({f"col{i}": [1.0] for i in range(25)} | {"race": ["a"]})
    config = features_config(categorical=[{"name": "racee"}])

    with pytest.raises(ValueError, match=r"did you mean 'race'\?") as info:
        FeatureMap.fit(frame, config, reserved=set())
    assert "and 6 more" in str(info.value)


def test_feature_declared_twice(tiny_frame):
    config = features_config(numeric=[{"name": "x*"}, {"name": "x1"}])

    with pytest.raises(ValueError, match=r"\['x1'\] are declared twice"):
        FeatureMap.fit(tiny_frame, config, reserved=set())


def test_transform_without_a_feature_column(tiny_frame):
    fmap = FeatureMap.fit(tiny_frame, features_config(), reserved=set())

    with pytest.raises(
        ValueError, match=r"split 'test' lacks feature columns \['x1'\]"
    ):
        fmap.transform(tiny_frame.drop(columns="x1"), "split 'test'")


REPRESENTATIONS = {
    "int": pd.Series([3, 10, -2, 3, 10, 3], name="f"),
    "float-with-nan": pd.Series([3.0, 10.0, -2.0, 3.0, 10.0, 3.0, np.nan], name="f"),
    "string": pd.Series(["3", "10", "-2", "3", "10", "3"], name="f"),
}


@pytest.mark.parametrize("fitted_on", list(REPRESENTATIONS))
@pytest.mark.parametrize("applied_to", list(REPRESENTATIONS))
def test_ids_agree_across_int_float_and_string_columns(fitted_on, applied_to):
    encoder = CategoricalEncoder.fit(REPRESENTATIONS[fitted_on], min_count=1)
    column = REPRESENTATIONS[applied_to]

    ids = encoder.transform(column)

    assert sorted(encoder.vocabulary) == ["-2", "10", "3"]
    assert encoder.vocabulary[0] == "3"  # the most frequent value
    decoded = [encoder.vocabulary[i - 1] if i else None for i in ids]
    expected = [None if pd.isna(v) else str(int(float(v))) for v in column]
    assert decoded == expected


@pytest.mark.parametrize(
    "column",
    [pd.Series([7, 8], name="f"), pd.Series([7.0, np.nan], name="f")],
    ids=["int", "float"],
)
def test_unseen_integers_get_oov(column):
    encoder = CategoricalEncoder.fit(pd.Series([1, 2, 2], name="f"), min_count=1)

    assert encoder.transform(column).tolist() == [0, 0]


def test_non_integral_floats_use_string_keys():
    encoder = CategoricalEncoder.fit(pd.Series([2.5, 3.0, 2.5], name="f"), 1)

    ids = encoder.transform(pd.Series([3, 2.5, 4.0]))

    assert encoder.vocabulary == ["2.5", "3"]
    assert ids.tolist() == [2, 1, 0]


def test_zero_padded_strings_do_not_match_integers():
    encoder = CategoricalEncoder.fit(pd.Series(["03", "3"], name="f"), 1)

    ids = encoder.transform(pd.Series([3]))

    assert encoder.vocabulary[ids[0] - 1] == "3"
