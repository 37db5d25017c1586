"""A small writer of HCL (Terraform's language) in ``terraform fmt`` layout.

Enough for the customer template: blocks, attributes, strings, numbers, booleans, lists,
objects and raw expressions. Strings are escaped for HCL (quotes, backslashes, control
characters, and ``${`` / ``%{`` so a value can never turn into an interpolation or template
directive). Layout follows ``terraform fmt``: two-space indent, the ``=`` of consecutive
single-line attributes aligned, multi-line values not padded and ending the alignment run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Block", "Call", "Conditional", "Expr", "render_body", "render_value", "string"]

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INLINE_LIST_MAX = 80


@dataclass(frozen=True)
class Expr:
    """A raw HCL expression, written as is (``var.tenant_id``, ``aws_kms_key.tenant.arn``)."""

    text: str


@dataclass(frozen=True)
class Call:
    """A function call; multi-line arguments are written one per line."""

    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Conditional:
    """``condition ? then : otherwise``."""

    condition: str
    then: Any
    otherwise: Any


@dataclass(frozen=True)
class Block:
    """A block: ``type "label" ... { body }``; ``body`` is a list of (name, value) attributes
    and nested :class:`Block` items, written in order."""

    type: str
    labels: tuple[str, ...] = ()
    body: Sequence[tuple[str, Any] | Block] = field(default=())


def string(text: str) -> str:
    """Quote ``text`` as an HCL string literal with no interpolation.

    Returns:
        The literal, including its quotes.
    """
    out = []
    for i, ch in enumerate(text):
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch in "$%" and nxt == "{":
            out.append(ch + ch)  # $${ and %%{ are the literal $ { and % {
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def render_value(value: Any, indent: int) -> str:
    """Write one value; nested lines are indented relative to ``indent`` spaces.

    Returns:
        The HCL text (may span lines; the first line carries no indent).

    Raises:
        TypeError: for a value HCL cannot express here.
    """
    if isinstance(value, Expr):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, Call):
        return _call(value, indent)
    if isinstance(value, Conditional):
        then = render_value(value.then, indent)
        otherwise = render_value(value.otherwise, indent)
        return f"{value.condition} ? {then} : {otherwise}"
    if isinstance(value, list | tuple):
        return _list(value, indent)
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = _attributes(list(value.items()), indent + 2, object_keys=True)
        return "{\n" + "\n".join(lines) + "\n" + " " * indent + "}"
    raise TypeError(f"cannot write {type(value).__name__} as HCL")


def render_body(items: Sequence[tuple[str, Any] | Block], indent: int = 0) -> list[str]:
    """Write the items of a body (the file itself, or a block's inside).

    Returns:
        The lines, each with its indent, without newlines.
    """
    lines: list[str] = []
    run: list[tuple[str, Any]] = []
    for item in items:
        if isinstance(item, Block):
            lines += _attributes(run, indent, object_keys=False)
            run = []
            lines += _block(item, indent)
        else:
            run.append(item)
    lines += _attributes(run, indent, object_keys=False)
    return lines


def _block(block: Block, indent: int) -> list[str]:
    head = " " * indent + " ".join([block.type, *(string(label) for label in block.labels)])
    if not block.body:
        return [head + " {}"]
    return [head + " {", *render_body(block.body, indent + 2), " " * indent + "}"]


def _attributes(items: list[tuple[str, Any]], indent: int, *, object_keys: bool) -> list[str]:
    """Attributes with the ``=`` of each run of single-line values aligned (terraform fmt)."""
    rendered = []
    for name, value in items:
        key = name if _IDENT_RE.fullmatch(name) or not object_keys else string(name)
        rendered.append((key, render_value(value, indent)))
    lines: list[str] = []
    i = 0
    while i < len(rendered):
        j = i
        while j < len(rendered) and "\n" not in rendered[j][1]:
            j += 1
        width = max((len(k) for k, _ in rendered[i:j]), default=0)
        lines += [" " * indent + f"{k.ljust(width)} = {v}" for k, v in rendered[i:j]]
        if j < len(rendered):
            key, text = rendered[j]
            lines.append(" " * indent + f"{key} = {text}")
        i = j + 1
    return lines


def _list(items: Sequence[Any], indent: int) -> str:
    if not items:
        return "[]"
    parts = [render_value(v, indent + 2) for v in items]
    inline = "[" + ", ".join(parts) + "]"
    scalar = all(not isinstance(v, list | tuple | dict | Call | Conditional) for v in items)
    if scalar and len(inline) <= _INLINE_LIST_MAX:
        return inline
    pad = " " * (indent + 2)
    return "[\n" + "".join(f"{pad}{p},\n" for p in parts) + " " * indent + "]"


def _call(call: Call, indent: int) -> str:
    if len(call.args) == 1:  # jsonencode({ ... }) keeps its argument's indent
        return f"{call.name}(" + render_value(call.args[0], indent) + ")"
    parts = [render_value(a, indent + 2) for a in call.args]
    if not any("\n" in p for p in parts):
        return f"{call.name}(" + ", ".join(parts) + ")"
    pad = " " * (indent + 2)
    return f"{call.name}(\n" + "".join(f"{pad}{p},\n" for p in parts) + " " * indent + ")"
