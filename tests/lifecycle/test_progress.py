"""The Rich progress bar of long lifecycle jobs draws a bar, the counts and an ETA."""

from __future__ import annotations

import io

from rich.console import Console

from byok.service.progress import RichProgress


def test_rich_progress_shows_counts_and_eta() -> None:
    out = io.StringIO()
    bar = RichProgress(Console(file=out, width=100, force_terminal=False))
    bar.start("re-wrapping tenant keys", total=10, completed=4)  # a resumed job
    bar.advance(6)
    bar.stop()
    text = out.getvalue()
    assert "re-wrapping tenant keys" in text and "10/10" in text and "ETA" in text
