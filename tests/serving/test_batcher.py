"""Tests of mtlrec/serving/_batcher.py: joining concurrent requests."""

import asyncio
import threading

import numpy as np
import pytest

from mtlrec.serving import MicroBatcher


class Recorder:
    """Scores rows as ``10 * x``; the first call blocks until released."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.release = threading.Event()

    def __call__(self, rows):
        if not self.calls:
            self.release.wait(timeout=5)
        self.calls.append([row["x"] for row in rows])
        return {"y": np.array([10 * row["x"] for row in rows])}


async def _submit_all(batcher, requests, recorder):
    batcher.start()
    first = asyncio.ensure_future(batcher.submit(requests[0]))
    await asyncio.sleep(0.05)  # the first request is being scored ...
    rest = [asyncio.ensure_future(batcher.submit(r)) for r in requests[1:]]
    await asyncio.sleep(0.05)  # ... while the others queue up
    recorder.release.set()
    results = await asyncio.gather(first, *rest)
    await batcher.stop()
    return results


def test_waiting_requests_are_joined_and_split_back():
    recorder = Recorder()
    requests = [[{"x": 1}], [{"x": 2}, {"x": 3}], [{"x": 4}], [{"x": 5}, {"x": 6}]]
    results = asyncio.run(_submit_all(MicroBatcher(recorder, 4), requests, recorder))
    # The first runs alone; then 3 rows join (a fourth would pass max_rows=4).
    assert recorder.calls == [[1], [2, 3, 4], [5, 6]]
    assert [r["y"].tolist() for r in results] == [[10], [20, 30], [40], [50, 60]]


def test_a_failure_reaches_every_request_of_the_batch():
    def broken(rows):
        raise RuntimeError("no model")

    async def run():
        batcher = MicroBatcher(broken, 8)
        batcher.start()
        outcome = await asyncio.gather(
            batcher.submit([{"x": 1}]),
            batcher.submit([{"x": 2}]),
            return_exceptions=True,
        )
        await batcher.stop()
        return outcome

    outcome = asyncio.run(run())
    assert [str(e) for e in outcome] == ["no model", "no model"]


def test_max_rows_must_be_positive():
    with pytest.raises(ValueError, match="max_rows must be >= 1, got 0"):
        MicroBatcher(lambda rows: {}, 0)
