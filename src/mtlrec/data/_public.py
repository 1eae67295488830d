"""Readers for public data sets in their original file formats.

MovieLens-100K (GroupLens) and Taobao UserBehavior (Tianchi). Both return one
frame; splits, labels and features are chosen in the run config.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "MOVIELENS_AGE_GROUPS",
    "read_movielens_100k",
    "read_taobao_user_behavior",
]

logger = logging.getLogger(__name__)

# Age groups of M3oE's MovieLens domains, mapped from ML-1M's codes
# ({1, 18}, {25}, {35, 45, 50, 56}) to the raw ages of ML-100K.
MOVIELENS_AGE_GROUPS = (("under25", 0, 24), ("25to34", 25, 34), ("35plus", 35, 200))

_GENRES = (
    "unknown, Action, Adventure, Animation, Childrens, Comedy, Crime, Documentary, "
    "Drama, Fantasy, Film-Noir, Horror, Musical, Mystery, Romance, Sci-Fi, Thriller, "
    "War, Western"
).split(", ")

_TAOBAO_BEHAVIOURS = ("pv", "cart", "fav", "buy")


def _require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} file {str(path)!r} does not exist; put the original files in "
            f"{str(path.parent)!r}, or point --data-dir at the folder that holds "
            f"'{path.parent.name}/'"
        )
    return path


def read_movielens_100k(path: str | Path, sort: bool = True) -> pd.DataFrame:
    """Read MovieLens-100K's ratings joined with ``u.user`` and ``u.item``.

    Args:
        path: The folder holding ``u.data``, ``u.user`` and ``u.item``, or a
            ratings file in ``u.data``'s format (``u1.test``, say), read
            with the side tables of its folder.
        sort: Order the rows by user, then time (default); False keeps the
            file's order (rows to score, whose output must line up with it).

    Returns:
        One row per rating with columns ``user_id, item_id, rating, timestamp,
        age, gender, occupation, zip, genre`` (the first genre flagged, else
        ``unknown``), ``year`` (release year, may be missing) and ``age_group``
        (``under25``, ``25to34``, ``35plus``; M3oE's three domains), ordered
        by user then time.

    Raises:
        FileNotFoundError: A file is missing.
        ValueError: A file has the wrong number of fields, a rating is not
            1-5, or a rating names a user or item absent from the side tables.
    """
    path = Path(path)
    folder, ratings_file = (
        (path, path / "u.data") if path.is_dir() else (path.parent, path)
    )
    ratings = _read_delimited(
        _require(ratings_file, "MovieLens ratings"),
        "\t",
        ["user_id", "item_id", "rating", "timestamp"],
    )
    users = _read_delimited(
        _require(folder / "u.user", "MovieLens u.user"),
        "|",
        ["user_id", "age", "gender", "occupation", "zip"],
    )
    item_columns = ["item_id", "title", "release", "video_release", "url", *_GENRES]
    items = _read_delimited(
        _require(folder / "u.item", "MovieLens u.item"), "|", item_columns
    )
    bad = ~ratings["rating"].isin([1, 2, 3, 4, 5])
    if bad.any():
        raise ValueError(
            f"{ratings_file.name} holds ratings outside 1-5, e.g. "
            f"{ratings['rating'][bad].iloc[0]!r}"
        )
    items["genre"] = _first_genre(items)
    items["year"] = pd.to_datetime(items["release"], format="%d-%b-%Y", errors="coerce")
    items["year"] = items["year"].dt.year
    frame = ratings.merge(users, on="user_id", how="left", validate="many_to_one")
    frame = frame.merge(items[["item_id", "genre", "year"]], on="item_id", how="left")
    for column, table in (("age", "u.user"), ("genre", "u.item")):
        if frame[column].isna().any():
            raise ValueError(
                f"{ratings_file.name} names ids absent from {table}; use the files of "
                "one MovieLens-100K release"
            )
    frame["age_group"] = _age_group(frame["age"].to_numpy())
    if sort:
        frame = frame.sort_values(["user_id", "timestamp"], kind="stable")
    logger.info("Read MovieLens-100K rows=%d", len(frame))
    return frame.reset_index(drop=True)


def _read_delimited(path: Path, separator: str, names: list[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path,
            sep=separator,
            header=None,
            encoding="latin-1",
            engine="python" if separator == "|" else "c",
            dtype=str,
            keep_default_na=False,
        )
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise ValueError(
            f"{path.name} is not a MovieLens-100K file ({detail}); pass the "
            "folder, u.data or a ratings file such as u1.test"
        ) from None
    if frame.shape[1] != len(names):
        raise ValueError(
            f"{path.name} has {frame.shape[1]} fields per row, expected "
            f"{len(names)}; is it the original MovieLens-100K file?"
        )
    frame.columns = names
    for column in ("user_id", "item_id", "rating", "timestamp", "age"):
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            if values.isna().any():
                raise ValueError(
                    f"{path.name}: column {column!r} holds non-integer values such "
                    f"as {frame[column][values.isna()].iloc[0]!r}"
                )
            frame[column] = values.astype(np.int64)
    return frame


def _first_genre(items: pd.DataFrame) -> pd.Series:
    flags = items[list(_GENRES)].astype(np.int64).to_numpy()
    first = np.where(flags.any(axis=1), flags.argmax(axis=1), 0)
    return pd.Series(np.asarray(_GENRES)[first], index=items.index)


def _age_group(age: np.ndarray) -> np.ndarray:
    groups = np.empty(age.shape, dtype=object)
    for name, low, high in MOVIELENS_AGE_GROUPS:
        groups[(age >= low) & (age <= high)] = name
    return groups


def read_taobao_user_behavior(path: str | Path) -> pd.DataFrame:
    """Read Taobao ``UserBehavior.csv`` as a view -> cart/fav -> buy funnel.

    The original file has no header and the columns ``user_id, item_id,
    category_id, behavior_type, timestamp``. Events are grouped per
    (user, item) pair; every pair counts as an impression (viewed). The
    funnel labels are ``cart_fav`` (the pair was added to the cart, marked as
    favourite, or bought: a purchase implies the pair passed the intent step,
    as Taobao also allows buying directly) and ``buy``, so ``buy <= cart_fav``
    on every row.

    Args:
        path: The CSV file (or a head of it).

    Returns:
        One row per pair: ``user_id, item_id, category_id, first_time``
        (earliest event), ``hour`` (hour of day of that event, UTC+8) and
        the labels ``cart_fav`` and ``buy`` (0/1). Event counts are not kept
        as features: they would reveal the behaviour being predicted.

    Raises:
        FileNotFoundError: The file is missing.
        ValueError: A row does not have 5 fields, an id or time is not an
            integer, or a behaviour is not one of pv, cart, fav, buy.
    """
    source = _require(Path(path), "Taobao UserBehavior")
    try:
        log = pd.read_csv(source, header=None, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise ValueError(f"{source.name} is not a 5-field CSV: {exc}") from None
    if log.shape[1] != 5:
        raise ValueError(
            f"{source.name} has {log.shape[1]} fields per row, expected 5 "
            "(user_id, item_id, category_id, behavior_type, timestamp)"
        )
    log.columns = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
    odd = ~log["behavior_type"].isin(_TAOBAO_BEHAVIOURS)
    if odd.any():
        raise ValueError(
            f"{source.name}: behavior_type must be one of {list(_TAOBAO_BEHAVIOURS)}, "
            f"got {log['behavior_type'][odd].iloc[0]!r}"
        )
    for column in ("user_id", "item_id", "category_id", "timestamp"):
        values = pd.to_numeric(log[column], errors="coerce")
        if values.isna().any():
            raise ValueError(
                f"{source.name}: column {column!r} holds non-integer values such "
                f"as {log[column][values.isna()].iloc[0]!r}"
            )
        log[column] = values.astype(np.int64)
    return _taobao_pairs(log)


def _taobao_pairs(log: pd.DataFrame) -> pd.DataFrame:
    behaviour = log["behavior_type"]
    log = log.assign(
        cart_fav=behaviour.isin(["cart", "fav", "buy"]).astype(np.int64),
        buy=(behaviour == "buy").astype(np.int64),
    )
    pairs = log.groupby(["user_id", "item_id"], sort=True).agg(
        category_id=("category_id", "first"),
        first_time=("timestamp", "min"),
        cart_fav=("cart_fav", "max"),
        buy=("buy", "max"),
    )
    pairs = pairs.reset_index()
    pairs["hour"] = ((pairs["first_time"] + 8 * 3600) // 3600) % 24
    logger.info(
        "Read Taobao UserBehavior events=%d pairs=%d cart_fav=%d buy=%d",
        len(log),
        len(pairs),
        int(pairs["cart_fav"].sum()),
        int(pairs["buy"].sum()),
    )
    return pairs
