"""``python -m mtlrec``: the command line."""

from mtlrec.cli import main

main()
