"""Shared CLI output: human tables or ``--json``, and one way to report errors.

Exit codes come from :data:`byok.errors.ERROR_TABLE` (docs/OPERATIONS.md#exit-codes):
0 success, 1 unexpected error, 2 invalid input or configuration, 10-16 the customer's key or
role refuses, 20-22 KMS trouble (retry), 30 integrity failure, 40-42 storage, 50 state.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from byok.errors import ByokError, mapping_for

__all__ = ["JSON_OPTION", "console", "emit_json", "err_console", "reports_errors"]

P = ParamSpec("P")
R = TypeVar("R")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON instead of text.")


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout (dates and paths as strings)."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


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
                err_console.print(f"[bold red]Error ({mapping.title}):[/] {exc.message}")
                if exc.tenant:
                    err_console.print(f"  tenant: {exc.tenant}")
                err_console.print(f"  [yellow]Fix:[/] {exc.fix}")
            raise typer.Exit(mapping.exit_code) from None

    return wrapper
