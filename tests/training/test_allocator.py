"""The glibc allocator tuning keeps freed tensor memory for reuse."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="mallopt is glibc's",
)

# Allocates and frees a 64 MiB tensor ten times and reports the page faults.
# Blocks above 32 MiB always get a mapping of their own from default glibc, so
# every allocation faults in all of its 16,384 pages again.
_PROBE = """
import json, resource, sys, torch
from mtlrec.training import tune_allocator
applied = tune_allocator() if sys.argv[1] == "tune" else False
rows = 64 * 2**20 // 4
for _ in range(3):
    t = torch.ones(rows); del t
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    t = torch.ones(rows); del t
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"applied": applied, "faults": faults}))
"""


def _probe(mode: str, **env: str) -> dict[str, object]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | env
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode],
        capture_output=True,
        text=True,
        check=True,
        env=environ,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_tuning_reuses_freed_buffers() -> None:
    plain = _probe("plain")
    tuned = _probe("tune")
    assert tuned["applied"] is True
    # Plain glibc re-maps every 64 MiB block: 10 x 16,384 faulted pages.
    assert isinstance(plain["faults"], int) and plain["faults"] >= 10 * 16384
    assert isinstance(tuned["faults"], int) and tuned["faults"] < 0.8 * plain["faults"]


def test_environment_settings_win() -> None:
    result = _probe("tune", MALLOC_TRIM_THRESHOLD_="131072")
    assert result["applied"] is False
