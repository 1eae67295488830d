"""Readers of MovieLens-100K and Taobao UserBehavior original files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mtlrec.data import read_movielens_100k, read_taobao_user_behavior

GENRE_FLAGS_COMEDY = "|".join(["0"] * 5 + ["1"] + ["0"] * 13)
GENRE_FLAGS_NONE = "|".join(["0"] * 19)


def _write_movielens(folder: Path, ratings: str | None = None) -> Path:
    (folder / "u.data").write_text(
        ratings or "1\t10\t5\t100\n1\t11\t3\t90\n2\t10\t4\t50\n"
    )
    (folder / "u.user").write_text("1|24|M|student|12345\n2|40|F|writer|54321\n")
    (folder / "u.item").write_text(
        f"10|A (1995)|01-Jan-1995||http://a|{GENRE_FLAGS_COMEDY}\n"
        f"11|B (1990)|||http://b|{GENRE_FLAGS_NONE}\n"
    )
    return folder


def test_movielens_joins_side_info_and_sorts_by_user_time(tmp_path: Path) -> None:
    frame = read_movielens_100k(_write_movielens(tmp_path))
    assert frame["item_id"].tolist() == [11, 10, 10]
    assert frame["rating"].tolist() == [3, 5, 4]
    assert frame["genre"].tolist() == ["unknown", "Comedy", "Comedy"]
    assert frame["age_group"].tolist() == ["under25", "under25", "35plus"]
    assert frame["occupation"].tolist() == ["student", "student", "writer"]
    assert frame["year"].iloc[1] == 1995


@pytest.mark.parametrize(
    ("ratings", "message"),
    [
        ("1\t10\t6\t100\n", "ratings outside 1-5"),
        ("1\t10\t5\n", "3 fields per row, expected 4"),
        ("3\t10\t5\t100\n", "absent from u.user"),
        ("x\t10\t5\t100\n", "non-integer"),
    ],
)
def test_movielens_rejects_malformed_files(
    tmp_path: Path, ratings: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        read_movielens_100k(_write_movielens(tmp_path, ratings))


def test_movielens_missing_file(tmp_path: Path) -> None:
    folder = tmp_path / "movielens-100k"
    folder.mkdir()

    with pytest.raises(
        FileNotFoundError,
        match=r"u\.data' does not exist; put the original files in '.*movielens-100k'"
        r", or point --data-dir at the folder that holds 'movielens-100k/'$",
    ):
        read_movielens_100k(folder)


def test_taobao_pairs_form_a_consistent_funnel(tmp_path: Path) -> None:
    path = tmp_path / "UserBehavior.csv"
    path.write_text(
        "1,10,7,pv,1511544000\n"
        "1,10,7,cart,1511544100\n"
        "1,11,7,pv,1511547600\n"
        "1,11,7,buy,1511547700\n"
        "2,10,7,pv,1511550000\n"
        "2,12,8,fav,1511550000\n"
    )
    frame = read_taobao_user_behavior(path)
    assert frame[["user_id", "item_id"]].values.tolist() == [
        [1, 10],
        [1, 11],
        [2, 10],
        [2, 12],
    ]
    assert frame["cart_fav"].tolist() == [1, 1, 0, 1]  # a purchase passes the step
    assert frame["buy"].tolist() == [0, 1, 0, 0]
    assert frame["first_time"].tolist()[0] == 1511544000
    assert frame["hour"].tolist()[0] == (1511544000 // 3600 + 8) % 24


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1,10,7,click,1511544000\n", "behavior_type must be one of"),
        ("1,10,7,pv\n", "4 fields per row, expected 5"),
        ("1,x,7,pv,1511544000\n", "non-integer"),
    ],
)
def test_taobao_rejects_malformed_rows(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "UserBehavior.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_taobao_user_behavior(path)


DATA_DIR = os.environ.get("MTLREC_DATA_DIR")


@pytest.mark.slow
@pytest.mark.skipif(
    not DATA_DIR or not Path(DATA_DIR, "movielens-100k").is_dir(),
    reason="MTLREC_DATA_DIR does not hold movielens-100k",
)
def test_real_movielens_100k_sizes() -> None:
    frame = read_movielens_100k(Path(str(DATA_DIR), "movielens-100k"))
    assert len(frame) == 100_000
    assert frame["user_id"].nunique() == 943
    assert frame["age_group"].value_counts().to_dict() == {
        "35plus": 38005,
        "25to34": 35444,
        "under25": 26551,
    }


@pytest.mark.slow
@pytest.mark.skipif(
    not DATA_DIR or not Path(DATA_DIR, "taobao-user-behavior").is_dir(),
    reason="MTLREC_DATA_DIR does not hold taobao-user-behavior",
)
def test_real_taobao_head_pairs() -> None:
    path = Path(str(DATA_DIR), "taobao-user-behavior", "UserBehavior.head-84475.csv")
    frame = read_taobao_user_behavior(path)
    assert len(frame) == 63988
    assert (frame["buy"] <= frame["cart_fav"]).all()
    assert int(frame["buy"].sum()) == 1672


def test_movielens_format_loads_through_the_config(tmp_path: Path) -> None:
    from mtlrec.config import DataConfig
    from mtlrec.data import load_splits

    folder = tmp_path / "ml"
    folder.mkdir()
    _write_movielens(folder)
    config = DataConfig(
        format="movielens_100k",
        path="ml",
        split={
            "method": "column",
            "column": "user_id",
            "values": {"train": "1", "valid": "2", "test": "2"},
        },
    )
    frames = load_splits(config, tmp_path)
    assert len(frames["train"]) == 2 and len(frames["test"]) == 1


def test_movielens_ratings_file_is_read_itself(tmp_path: Path) -> None:
    # A ratings file in u.data's format (u1.test, say) is read as given, with
    # the side tables of its folder; it used to be swapped for u.data.
    _write_movielens(tmp_path)
    (tmp_path / "u1.test").write_text("2\t11\t2\t70\n")

    frame = read_movielens_100k(tmp_path / "u1.test")

    assert frame["item_id"].tolist() == [11]
    assert frame["rating"].tolist() == [2]
    assert frame["occupation"].tolist() == ["writer"]


def test_movielens_rows_file_of_a_run_is_the_file_given(tmp_path: Path) -> None:
    from mtlrec.config import DataConfig
    from mtlrec.data import read_rows_file

    _write_movielens(tmp_path)
    (tmp_path / "u1.test").write_text("2\t11\t2\t70\n")
    (tmp_path / "notes.txt").write_text("MovieLens read me\n")
    config = DataConfig(format="movielens_100k", path=str(tmp_path))

    assert len(read_rows_file(config, tmp_path / "u1.test")) == 1
    with pytest.raises(ValueError, match="notes.txt has 1 fields per row"):
        read_rows_file(config, tmp_path / "notes.txt")


def test_movielens_rows_to_score_keep_the_file_order(tmp_path: Path) -> None:
    # Scores must line up with the lines of the file they were asked for; the
    # reader used to sort these rows by user and time.
    from mtlrec.config import DataConfig
    from mtlrec.data import read_rows_file

    _write_movielens(tmp_path)
    (tmp_path / "u1.test").write_text("2\t11\t2\t70\n1\t10\t4\t90\n1\t11\t5\t30\n")
    config = DataConfig(format="movielens_100k", path=str(tmp_path))

    rows = read_rows_file(config, tmp_path / "u1.test")

    assert rows["user_id"].tolist() == [2, 1, 1]
    assert rows["timestamp"].tolist() == [70, 90, 30]
    assert rows["occupation"].tolist() == ["writer", "student", "student"]
    sorted_rows = read_movielens_100k(tmp_path / "u1.test")
    assert sorted_rows["timestamp"].tolist() == [30, 90, 70]


def test_movielens_ragged_file_is_named_in_one_line(tmp_path: Path) -> None:
    _write_movielens(tmp_path)
    (tmp_path / "README").write_text("title\n\nsome\ttab\tseparated\n")

    with pytest.raises(ValueError, match=r"README is not a MovieLens-100K file"):
        read_movielens_100k(tmp_path / "README")
