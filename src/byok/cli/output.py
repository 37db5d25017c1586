"""Shared CLI output: human text or ``--json``, printed safely, and one way to report errors.

**Data is never markup.** Every command prints through :data:`console` or :data:`err_console`
(a :class:`byok.cli.safe_console.SafeConsole`, made on first use). A plain ``str`` given to
them (directly, as a table cell or a title) is *data*: Rich markup, emoji codes and
highlighting are off, and every character that could move the cursor, clear or recolour the
screen, reorder the line or start a new one (C0/C1 controls such as ESC and newline, bidi
overrides such as U+202E, U+2028, anything :meth:`str.isprintable` refuses) is shown as a
visible escape (``\\x1b``, ``\\u202e``; :func:`byok.cli.sanitize.clean`). So a document named
``[/bold]``, ``[bold red]WARNING[/]`` or ``\\x1b[2J`` prints as exactly those characters whatever
the call site does. Styling and line breaks are explicit and come only from this module:
:func:`styled` and :func:`text` build :class:`rich.text.Text` around cleaned data, :data:`BREAK`
is a line break inside :func:`text`, :func:`table` builds tables.

``--json`` output goes through :func:`emit_json` (``json.dumps`` escapes every control and
non-ASCII character).

Exit codes come from :data:`byok.errors.ERROR_TABLE` (docs/OPERATIONS.md#exit-codes):
0 success, 1 unexpected error, 2 invalid input or configuration, 10-16 the customer's key or
role refuses, 20-22 KMS trouble (retry), 30 integrity failure, 40-42 storage, 50 state.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar, cast

import typer

from byok.cli.sanitize import clean
from byok.errors import ByokError, mapping_for

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

__all__ = [
    "BREAK",
    "JSON_OPTION",
    "clean",
    "console",
    "emit_json",
    "err_console",
    "human",
    "print_fields",
    "reports_errors",
    "styled",
    "table",
    "text",
    "write_exact",
]

P = ParamSpec("P")
R = TypeVar("R")


class _LazyConsole:
    """Stands for a :class:`SafeConsole` made on first use: commands that print only JSON (or
    exit at once, like ``--version``) never import Rich's console."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def _get(self) -> Console:
        if self._console is None:
            from byok.cli.safe_console import SafeConsole

            self._console = SafeConsole(stderr=self._stderr)
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self._get().print(*objects, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)


console = cast("Console", _LazyConsole(stderr=False))
err_console = cast("Console", _LazyConsole(stderr=True))


class _Break:
    """A line break inside :func:`text` (a ``"\\n"`` given as data is shown as ``\\n``)."""


BREAK: Final = _Break()


def styled(value: object, style: str) -> Text:
    """``value`` (data, cleaned) in a Rich style such as ``"bold red"``."""
    from rich.text import Text

    return Text(clean(value), style=style)


def text(*parts: object) -> Text:
    """Join parts into one :class:`Text`: a ``Text`` as is (only this module's, e.g.
    :func:`styled`), :data:`BREAK` a line break, a ``(value, style)`` pair styled, anything
    else cleaned."""
    from rich.text import Text

    joined = Text()
    for part in parts:
        if part is BREAK:
            joined.append("\n")
        elif isinstance(part, Text):
            joined.append_text(part)
        elif isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], str):
            joined.append_text(styled(part[0], part[1]))
        else:
            joined.append(clean(part))
    return joined


def table(
    *columns: str, rows: Iterable[Iterable[object]] = (), title: object = None, fold: bool = False
) -> Table:
    """A Rich table whose cells and title are data (cleaned), unless a cell is a ``Text``.

    Rows may also be added later with ``add_row``; the console cleans ``str`` cells then.
    """
    from rich.table import Table
    from rich.text import Text

    built = Table(title=None if title is None else clean(title))
    for column in columns:
        built.add_column(column, overflow="fold" if fold else "ellipsis")
    for row in rows:
        built.add_row(*(cell if isinstance(cell, Text) else clean(cell) for cell in row))
    return built


def human(value: object) -> str:
    """A value as people read it (never a Python repr): ``-`` for None, yes/no, lists joined
    with commas (``none`` when empty), mappings as ``key value`` pairs; cleaned."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{human(k)} {human(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(human(item) for item in value) or "none"
    return clean(value)


def print_fields(values: Mapping[str, object], *, skip: Iterable[str] = ()) -> None:
    """Print a report's fields one per line, ``  name: value`` (names with spaces)."""
    hidden = set(skip)
    shown = [(k, v) for k, v in values.items() if k not in hidden]
    width = max((len(k) for k, _ in shown), default=0)
    for key, value in shown:
        console.print(f"  {key.replace('_', ' '):>{width}}: {human(value)}")


JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON instead of text.")


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout (dates and paths as strings)."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def write_exact(document: Any) -> None:
    """Write ``document`` to stdout exactly, not through Rich (which would wrap long ARNs): a
    ``str`` as is, anything else as 2-space JSON in build order with a final newline."""
    if not isinstance(document, str):
        from byok.core.policy.templates import render_json

        document = render_json(document)
    sys.stdout.write(document)
    sys.stdout.flush()


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command: a :class:`ByokError` prints its message and fix, exits by the table.

    With ``--json`` (a ``json_output`` keyword argument) the error is printed as JSON on
    stdout instead, so pipelines always get JSON.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ByokError as exc:
            mapping = mapping_for(exc)
            if kwargs.get("json_output"):
                emit_json({"ok": False, **exc.to_dict(), "exit_code": mapping.exit_code})
            else:
                err_console.print(text((f"Error ({mapping.title}):", "bold red"), " ", exc.message))
                if exc.tenant:
                    err_console.print("  tenant: " + clean(exc.tenant))
                err_console.print(text("  ", ("Fix:", "yellow"), " ", exc.fix))
            raise typer.Exit(mapping.exit_code) from None

    return wrapper
