"""Encoder of a history feature: event vocabularies fitted on the training log."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mtlrec.config import SequenceFeature
from mtlrec.data import columns_hint, history_index
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
        source: ``log`` (built from the rows by time) or ``column``
            (pre-built, ids joined by ``separator``).
        separator: Separator of a pre-built history.
    """

    name: str
    key: str | None
    order: str | None
    max_length: int
    pooling: str
    channels: list[CategoricalEncoder] = field(default_factory=list)
    source: str = "log"
    separator: str = "|"

    @classmethod
    def fit(cls, frame: pd.DataFrame, spec: SequenceFeature) -> SequenceEncoder:
        """Learn each event column's vocabulary from the training rows.

        Raises:
            ValueError: A key, order or event column is missing.
        """
        needed = [c for c in (spec.key, spec.order, *spec.columns) if c is not None]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(
                f"sequence feature {spec.name!r} names columns {missing!r} that are "
                f"not in the training data{columns_hint(missing, frame.columns)}"
            )
        encoder = cls(
            spec.name,
            spec.key,
            spec.order,
            spec.max_length,
            spec.pooling,
            [],
            spec.source,
            spec.separator,
        )
        for column in spec.columns:
            values = frame[column]
            if spec.source == "column":
                tokens = encoder._split(values, "the training split")[0]
                values = pd.Series(np.concatenate(tokens), name=column, dtype=object)
            encoder.channels.append(CategoricalEncoder.fit(values, spec.min_count))
        return encoder

    @property
    def vocab_sizes(self) -> tuple[int, ...]:
        """Embedding rows per channel (OOV id 0 included)."""
        return tuple(c.size for c in self.channels)

    def transform(
        self, frame: pd.DataFrame, where: str = "the data"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(N, L, C)`` int64 event ids and ``(N,)`` int64 lengths.

        From a log, the history of a row holds the rows of ``frame`` with the
        same key and a strictly smaller order value, so a row never sees its
        own or a simultaneous event; padding positions hold id 0.

        Raises:
            ValueError: ``frame`` lacks the key, order or an event column; a
                pre-built history is longer than ``max_length`` or its
                channels differ in length.
        """
        needed = [self.key, self.order] if self.source == "log" else []
        needed += [c.name for c in self.channels]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(
                f"{where} lacks columns {missing!r} of sequence feature "
                f"{self.name!r}; the history is built from them"
            )
        if self.source == "column":
            return self._transform_column(frame, where)
        assert self.key is not None and self.order is not None  # checked in config
        index, lengths = history_index(
            frame[self.key], frame[self.order], self.max_length
        )
        event_ids = np.stack(
            [c.transform(frame[c.name]) for c in self.channels], axis=1
        )  # (N, C)
        ids = event_ids[np.clip(index, 0, None)]  # (N, L, C)
        ids[index < 0] = 0
        return ids.astype(np.int64), lengths

    def _split(
        self, column: pd.Series, where: str
    ) -> tuple[list[np.ndarray], np.ndarray]:
        # Pre-built histories: split each cell into ids; empty cells are empty.
        text = column.fillna("").astype(str)
        tokens = [
            np.asarray([t.strip() for t in cell.split(self.separator) if t.strip()])
            for cell in text
        ]
        lengths = np.fromiter((len(t) for t in tokens), np.int64, len(tokens))
        if lengths.size and lengths.max() > self.max_length:
            count = int((lengths > self.max_length).sum())
            raise ValueError(
                f"sequence feature {self.name!r}: column {column.name!r} in {where} "
                f"has {count} histories longer than max_length={self.max_length} "
                f"(longest {int(lengths.max())}); raise max_length or truncate them"
            )
        return tokens, lengths

    def _transform_column(
        self, frame: pd.DataFrame, where: str
    ) -> tuple[np.ndarray, np.ndarray]:
        ids = np.zeros((len(frame), self.max_length, len(self.channels)), np.int64)
        lengths = None
        for c, encoder in enumerate(self.channels):
            tokens, channel_lengths = self._split(frame[encoder.name], where)
            if lengths is not None and not np.array_equal(lengths, channel_lengths):
                raise ValueError(
                    f"sequence feature {self.name!r}: columns "
                    f"{[e.name for e in self.channels]!r} in {where} give histories of "
                    "different lengths on some rows; every event needs every column"
                )
            lengths = channel_lengths
            flat = pd.Series(np.concatenate(tokens) if tokens else [], dtype=object)
            encoded = encoder.transform(flat)
            rows = np.repeat(np.arange(len(frame)), channel_lengths)
            starts = np.cumsum(channel_lengths) - channel_lengths
            steps = np.arange(len(rows)) - np.repeat(starts, channel_lengths)
            ids[rows, steps, c] = encoded
        assert lengths is not None  # a sequence has at least one column
        return ids, lengths

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
