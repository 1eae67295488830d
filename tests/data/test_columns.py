"""The shared tail of "column not found" messages."""

from __future__ import annotations

import pandas as pd
import pytest

from mtlrec.config import FeaturesConfig
from mtlrec.data import columns_hint
from mtlrec.features import FeatureMap


def test_a_close_name_is_guessed_and_the_columns_listed() -> None:
    assert columns_hint("usr", ["user", "item"]) == (
        " (did you mean 'user'?); columns are ['user', 'item']"
    )


def test_no_guess_for_a_far_name_or_several_names() -> None:
    assert columns_hint("zzz", ["user"]) == "; columns are ['user']"
    assert columns_hint(["usr", "itm"], ["user", "item"]) == (
        "; columns are ['user', 'item']"
    )


def test_long_column_lists_say_how_many_are_left_out() -> None:
    columns = [f"c{i}" for i in range(23)]

    hint = columns_hint("zzz", columns)

    assert hint.endswith("'c19'] and 3 more")
    assert "'c20'" not in hint


@pytest.mark.parametrize(
    ("header", "separator"), [("a;b;c", "';'"), ("a\tb", "'\\t'"), ("a|b", "'|'")]
)
def test_one_column_holding_a_separator_suggests_csv_separator(
    header: str, separator: str
) -> None:
    hint = columns_hint("a", [header])

    assert hint.endswith(
        f"; the file was read as one column: if its fields are separated by "
        f"{separator}, set data.csv_separator to it"
    )


def test_a_semicolon_file_read_as_csv_names_the_fix(tmp_path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("user;item;click\nu1;i1;1\nu2;i2;0\n")
    frame = pd.read_csv(path)
    config = FeaturesConfig.model_validate({"categorical": [{"name": "user"}]})

    with pytest.raises(ValueError, match=r"set data.csv_separator to it$"):
        FeatureMap.fit(frame, config, set())
