"""Run the command line with ``python -m mtlrec``."""

from mtlrec.cli import main

main()
