"""Progress reporting for long lifecycle jobs: a Rich bar with an ETA, or nothing (tests).

Jobs call :meth:`Progress.start` once with the total and what is already done (a resumed job
starts part-way), :meth:`Progress.advance` per item, and :meth:`Progress.stop` at the end.
"""

from __future__ import annotations

from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBar

__all__ = ["QUIET", "Progress", "QuietProgress", "RichProgress"]


class Progress(Protocol):
    """Where a job reports its progress."""

    def start(self, description: str, total: int, completed: int = 0) -> None:
        """A job of ``total`` items begins, ``completed`` of them already done."""
        ...

    def advance(self, amount: int = 1) -> None:
        """``amount`` more items are done."""
        ...

    def stop(self) -> None:
        """The job ended (successfully or not)."""
        ...


class QuietProgress:
    """Reports nothing (tests, ``--quiet``)."""

    def start(self, description: str, total: int, completed: int = 0) -> None:
        """Ignored."""

    def advance(self, amount: int = 1) -> None:
        """Ignored."""

    def stop(self) -> None:
        """Ignored."""


QUIET = QuietProgress()


class RichProgress:
    """A Rich progress bar: description, bar, done/total, elapsed time and ETA.

    Args:
        console: where to draw (default: standard error).
    """

    def __init__(self, console: Console | None = None) -> None:
        self._bar = RichBar(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=console or Console(stderr=True), transient=False,
        )  # fmt: skip
        self._task: TaskID | None = None

    def start(self, description: str, total: int, completed: int = 0) -> None:
        """Show the bar."""
        self._bar.start()
        self._task = self._bar.add_task(description, total=total, completed=completed)

    def advance(self, amount: int = 1) -> None:
        """Move the bar."""
        if self._task is not None:
            self._bar.advance(self._task, amount)

    def stop(self) -> None:
        """Leave the final bar on screen."""
        self._bar.stop()
