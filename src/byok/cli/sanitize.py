"""Tenant-supplied strings made safe to show on an operator's terminal (no Rich needed).

:func:`clean` turns every character a terminal could act on into a visible escape, so a
document name can neither clear the screen, recolour it, reorder the line (bidi) nor forge a
new line. Rich markup is not this module's concern: :mod:`byok.cli.safe_console` never
interprets it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["clean"]

_NAMED_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def clean(value: object) -> str:
    """``value`` as one printable line: each unprintable character becomes a visible escape.

    Unprintable means what :meth:`str.isprintable` refuses besides the space: C0 and C1
    controls (ESC, newline, carriage return, bell, U+0085), format characters (bidi overrides
    and isolates U+202A-U+202E and U+2066-U+2069, marks U+200E/U+200F, zero-width characters),
    line and paragraph separators (U+2028/U+2029), other separators, surrogates, private-use
    and unassigned code points.
    """
    raw = value if isinstance(value, str) else str(value)
    if raw.isprintable():
        return raw
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in raw)


def _escape(ch: str) -> str:
    named = _NAMED_ESCAPES.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )
