"""The tail of every "column not found" message: a guess, the columns, a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["columns_hint"]

_SHOWN = 20
_SEPARATORS = {";": "';'", "\t": "'\\t'", "|": "'|'", ",": "','"}


def columns_hint(wanted: str | Iterable[str], columns: Iterable[object]) -> str:
    """Describe ``columns`` for an error about the missing ``wanted`` name(s).

    Returns ``"(did you mean 'x'?); columns are [...] and N more"``: the
    closest column name to a single wanted name, if one is close, and the
    first 20 columns. A file read with one column whose name holds a
    separator (``;``, tab, ``|`` or ``,``) was most likely read with the
    wrong one, and the message says to set ``data.csv_separator``.
    """
    names = [str(c) for c in columns]
    guess = ""
    if isinstance(wanted, str):
        close = difflib.get_close_matches(wanted, names, n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
    shown = repr(names[:_SHOWN])
    if len(names) > _SHOWN:
        shown += f" and {len(names) - _SHOWN} more"
    hint = ""
    if len(names) == 1:
        found = [text for sep, text in _SEPARATORS.items() if sep in names[0]]
        if found:
            hint = (
                f"; the file was read as one column: if its fields are "
                f"separated by {found[0]}, set data.csv_separator to it"
            )
    return f"{guess}; columns are {shown}{hint}"
