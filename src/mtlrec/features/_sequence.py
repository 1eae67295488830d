"""Encoder of a history feature: event vocabularies fitted on the training log."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mtlrec.config import SequenceFeature
from mtlrec.data import history_index
from mtlrec.features._feature_map import CategoricalEncoder

__all__ = ["SequenceEncoder"]


@dataclass
class SequenceEncoder:
    """Builds and encodes each row's history of strictly earlier events.

    Attributes:
        name: Feature name.
        key: Column grouping a history (e.g. user id).
        order: Column ordering events (e.g. timestamp).
        max_length: Longest history ``L``.
        pooling: Pooling asked of models that pool (mean, sum, attention).
        channels: One vocabulary per event column, in channel order.
    """

    name: str
    key: str
    order: str
    max_length: int
    pooling: str
    channels: list[CategoricalEncoder] = field(default_factory=list)

    @classmethod
    def fit(cls, frame: pd.DataFrame, spec: SequenceFeature) -> SequenceEncoder:
        """Learn each event column's vocabulary from the training rows.

        Raises:
            ValueError: A key, order or event column is missing.
        """
        needed = [spec.key, spec.order, *spec.columns]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(
                f"sequence feature {spec.name!r} names columns {missing!r} that are "
                f"not in the training data; columns are {list(frame.columns)[:20]!r}"
            )
        channels = [
            CategoricalEncoder.fit(frame[c], spec.min_count) for c in spec.columns
        ]
        return cls(
            spec.name, spec.key, spec.order, spec.max_length, spec.pooling, channels
        )

    @property
    def vocab_sizes(self) -> tuple[int, ...]:
        """Embedding rows per channel (OOV id 0 included)."""
        return tuple(c.size for c in self.channels)

    def transform(
        self, frame: pd.DataFrame, where: str = "the data"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(N, L, C)`` int64 event ids and ``(N,)`` int64 lengths.

        The history of a row holds the rows of ``frame`` with the same key and
        a strictly smaller order value, so a row never sees its own or a
        simultaneous event; padding positions hold id 0.

        Raises:
            ValueError: ``frame`` lacks the key, order or an event column.
        """
        needed = [self.key, self.order, *(c.name for c in self.channels)]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(
                f"{where} lacks columns {missing!r} of sequence feature "
                f"{self.name!r}; the history is built from them"
            )
        index, lengths = history_index(
            frame[self.key], frame[self.order], self.max_length
        )
        event_ids = np.stack(
            [c.transform(frame[c.name]) for c in self.channels], axis=1
        )  # (N, C)
        ids = event_ids[np.clip(index, 0, None)]  # (N, L, C)
        ids[index < 0] = 0
        return ids.astype(np.int64), lengths

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        data = asdict(self)
        data["channels"] = [asdict(c) for c in self.channels]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SequenceEncoder:
        """Rebuild from :meth:`to_dict` output."""
        values = dict(data)
        values["channels"] = [CategoricalEncoder(**c) for c in data["channels"]]
        return cls(**values)
