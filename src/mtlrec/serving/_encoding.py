"""Encoding of checked request rows with the run's feature map, row-wise fast.

``FeatureMap.transform`` works column by column with pandas, which costs
milliseconds per column whatever the number of rows: fine for files, slow
for a request of one row. :class:`RowEncoder` gives the same ids and dense
values from the same code: the vocabulary keys come from
:func:`~mtlrec.features.canonical_strings` (remembered per distinct value),
each field's key-to-id table from :meth:`CategoricalEncoder.transform` of its
own vocabulary, and the dense columns from :meth:`NumericEncoder.transform`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mtlrec.features import CategoricalEncoder, FeatureMap, canonical_strings

__all__ = ["RowEncoder"]


class RowEncoder:
    """Turns rows from :func:`check_rows` into the model's input arrays.

    The result equals ``feature_map.transform`` of the same rows read from a
    file (each column holding values of one type).

    Args:
        feature_map: The run's fitted feature map.
        max_cached_keys: Distinct raw values whose vocabulary key is kept
            (default 100,000); past it the memory is cleared and refilled.
    """

    def __init__(self, feature_map: FeatureMap, max_cached_keys: int = 100_000) -> None:
        self.feature_map = feature_map
        self.max_cached_keys = max_cached_keys
        self._tables = [_id_table(e) for e in feature_map.categorical]
        self._keys: dict[tuple[type, Any], str | None] = {}

    def encode(self, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Encode rows into ``(B, F)`` int64 ids and ``(B, num_dense)`` float32.

        Args:
            rows: Checked rows: every feature key present, numerics as floats
                (NaN when missing).

        Returns:
            ``(ids, dense)`` as :meth:`FeatureMap.transform` returns them.
        """
        num_rows = len(rows)  # B
        fm = self.feature_map
        ids = np.zeros((num_rows, len(fm.categorical)), dtype=np.int64)  # (B, F)
        for f, (encoder, table) in enumerate(
            zip(fm.categorical, self._tables, strict=True)
        ):
            keys = self._canonical([row[encoder.name] for row in rows])
            ids[:, f] = [0 if key is None else table.get(key, 0) for key in keys]
        parts = [
            encoder.transform(
                pd.Series([row[encoder.name] for row in rows], dtype=np.float64)
            )
            for encoder in fm.numeric
        ]
        dense = (
            np.concatenate(parts, axis=1)
            if parts
            else np.zeros((num_rows, 0), np.float32)
        )  # (B, num_dense)
        return ids, dense

    def _canonical(self, values: list[Any]) -> list[str | None]:
        unknown: dict[type, list[Any]] = {}
        for value in values:
            if value is not None and (type(value), value) not in self._keys:
                unknown.setdefault(type(value), []).append(value)
        if unknown and len(self._keys) > self.max_cached_keys:
            self._keys.clear()
        # One canonical_strings call per value type: a column of one type, as
        # a file reader would give it.
        for kind, group in unknown.items():
            keys = canonical_strings(pd.Series(group))
            for value, key in zip(group, keys, strict=True):
                self._keys[(kind, value)] = None if pd.isna(key) else str(key)
        return [None if v is None else self._keys[(type(v), v)] for v in values]


def _id_table(encoder: CategoricalEncoder) -> dict[str, int]:
    # The encoder's own transform defines each vocabulary entry's id.
    ids = encoder.transform(pd.Series(encoder.vocabulary, dtype=object))
    return dict(zip(encoder.vocabulary, ids.tolist(), strict=True))
