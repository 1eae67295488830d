"""The ``mtlrec`` command line (argument parsing and wiring only)."""

from mtlrec.cli import _toolkit  # noqa: F401  (registers report, compare, tune)
from mtlrec.cli._main import cli, main

__all__ = ["cli", "main"]
