"""Step-by-step narration for the demo: numbered steps, results, and checked expectations.

A demo that only prints can lie; every step here states what it expects and the demo fails
(exit 1) the moment reality differs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.console import Console
from rich.json import JSON
from rich.panel import Panel
from rich.table import Table

from byok.errors import ByokError

__all__ = ["DemoFailed", "Narrator"]

T = TypeVar("T")


class DemoFailed(Exception):
    """An expectation stated by the demo did not hold."""


class Narrator:
    """Prints numbered steps and checks what each step expects."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._step = 0
        self._started = time.monotonic()

    @contextmanager
    def step(self, title: str, who: str) -> Iterator[None]:
        """A numbered step; ``who`` is the actor (customer, vendor)."""
        self._step += 1
        colour = "cyan" if who == "customer" else "magenta" if who == "vendor" else "white"
        self.console.rule(f"[bold]{self._step}. [{colour}]{who}[/{colour}]: {title}", align="left")
        yield

    def say(self, text: str) -> None:
        """One line of narration."""
        self.console.print(f"   {text}")

    def ok(self, text: str) -> None:
        """A result that went as expected."""
        self.console.print(f"   [green]\u2713[/green] {text}")

    def show_json(self, title: str, value: Any) -> None:
        """Show a JSON document (policy, configuration, report)."""
        import json

        self.console.print(Panel(JSON(json.dumps(value, indent=2)), title=title, expand=False))

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        """Show a small table."""
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        self.console.print(table)

    def expect_refused(
        self, what: str, call: Callable[[], object], error: type[BaseException] = ByokError
    ) -> BaseException:
        """Run ``call`` and require it to raise ``error``; show the message a user would see."""
        try:
            call()
        except error as caught:
            self.console.print(f"   [green]\u2713[/green] {what}: refused")
            self.console.print(f"     [yellow]{type(caught).__name__}[/yellow]: {caught}")
            return caught
        raise DemoFailed(f"expected {what} to be refused with {error.__name__}, but it succeeded")

    def expect(self, condition: bool, text: str) -> None:
        """Require ``condition``; print ``text`` as a passed check."""
        if not condition:
            raise DemoFailed(text)
        self.ok(text)

    def elapsed(self) -> float:
        """Seconds since the demo started."""
        return time.monotonic() - self._started
