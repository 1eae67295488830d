"""Run the command line with ``python -m mtlrec.cli``."""

from mtlrec.cli import main

main()
