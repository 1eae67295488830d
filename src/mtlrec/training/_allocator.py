"""Keep freed tensor memory in the process instead of returning it each step."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

__all__ = ["tune_allocator"]

logger = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks up to this size come from the heap rather than a mapping of their own;
# larger ones (whole data sets) still go back to the system when freed.
MMAP_THRESHOLD = 1 << 30  # 1 GiB
# The heap gives memory back to the system only when this much is free at its top.
TRIM_THRESHOLD = 2 << 30  # 2 GiB
# Settings a user made through glibc's environment variables win over these.
_ENV_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def tune_allocator() -> bool:
    """Let glibc reuse freed activation buffers instead of unmapping them.

    By default glibc serves large blocks from memory mappings of their own
    (above 128 KiB, a threshold it raises up to 32 MiB as such blocks are
    freed) and hands them back to the system when they are freed, and trims
    the heap whenever 128 KiB lie free at its top. Each training or scoring
    batch then re-maps and re-zeroes its activations page by page: about a
    million page faults in one run of the benchmark's MMoE (BENCHMARKS.md:
    with this setting, 113 thousand and 13 % faster training). This
    raises glibc's mapping threshold to 1 GiB and its trim threshold to 2 GiB,
    so the buffers stay in the heap and are reused from one batch to the next.
    Numbers are unchanged; peak memory grew by at most 16 MiB in the
    benchmark.

    :func:`~mtlrec.training.train_run` and
    :func:`~mtlrec.training.load_run` (so every ``mtlrec`` command and
    ``mtlrec.train`` / ``evaluate`` / ``predict``) call it; a program that
    drives :class:`~mtlrec.training.Trainer` itself can call it once at start.
    It does nothing (and returns False) on a C library other than glibc, or
    when ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` is set in
    the environment.

    Returns:
        True when the settings were applied.
    """
    if any(name in os.environ for name in _ENV_SETTINGS):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # not glibc
        return False
    applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    logger.debug("glibc allocator thresholds set. applied=%s", applied)
    return applied
