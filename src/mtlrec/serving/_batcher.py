"""Joins concurrent requests into one scoring call (dynamic batching).

Encoding a frame costs about the same for one row as for a few hundred
(pandas works column by column), so requests that arrive while a batch is
being scored wait in a queue and are scored together next. Nothing waits on
purpose: a request that finds the scorer idle is scored at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

__all__ = ["MicroBatcher"]

logger = logging.getLogger(__name__)

Rows = list[dict[str, Any]]
Scores = dict[str, np.ndarray]


class MicroBatcher:
    """Scores the rows of concurrent requests in joint batches.

    Args:
        score: Scores a list of rows; returns ``{name: (B,) array}``. It runs
            in a worker thread, one call at a time.
        max_rows: Rows above which no further request joins a batch (a single
            larger request still runs alone).
    """

    def __init__(self, score: Callable[[Rows], Scores], max_rows: int) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows!r}")
        self._score = score
        self._max_rows = max_rows
        self._queue: asyncio.Queue[tuple[Rows, asyncio.Future[Scores]]] | None = None
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the worker on the running event loop."""
        self._queue = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the worker; waiting requests are cancelled."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None

    async def submit(self, rows: Rows) -> Scores:
        """Score ``rows`` (with whatever else is waiting) and return their part."""
        if self._queue is None:
            self.start()
        assert self._queue is not None  # set by start()
        future: asyncio.Future[Scores] = asyncio.get_running_loop().create_future()
        await self._queue.put((rows, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None  # set by start()
        carry: tuple[Rows, asyncio.Future[Scores]] | None = None
        while True:
            batch = [carry if carry is not None else await self._queue.get()]
            carry = None
            total = len(batch[0][0])
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if total + len(item[0]) > self._max_rows:
                    carry = item
                    break
                batch.append(item)
                total += len(item[0])
            await self._score_batch(batch)

    async def _score_batch(
        self, batch: list[tuple[Rows, asyncio.Future[Scores]]]
    ) -> None:
        rows = [row for part, _ in batch for row in part]
        try:
            scores = await run_in_threadpool(self._score, rows)
        except Exception as exc:  # handed to every waiting request
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        logger.debug("Scored a batch. requests=%d rows=%d", len(batch), len(rows))
        start = 0
        for part, future in batch:
            stop = start + len(part)
            if not future.done():
                future.set_result({k: v[start:stop] for k, v in scores.items()})
            start = stop
