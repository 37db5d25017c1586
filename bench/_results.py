"""Shared helper of the benchmark scripts: merge figures into ``bench/results.json``.

Each script owns a set of names (``envelope_*``, ...) and merges only those, so scripts can run
in any order (or at once: the merge holds an exclusive lock and replaces the file atomically).
A figure that could not be measured is recorded as ``null`` so a stale number never survives.
The file is not committed (``.gitignore``); the README quotes the figures.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["RESULTS", "Figure", "load", "merge"]

RESULTS = Path(__file__).resolve().with_name("results.json")
Figure = float | int | None


def load(path: Path = RESULTS) -> dict[str, object]:
    """Return the current figures (an empty dict if the file is missing or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def merge(figures: Mapping[str, Figure], path: Path = RESULTS) -> dict[str, object]:
    """Set ``figures`` in the results file, keeping every other name as it was.

    Returns:
        The whole merged content, as written.
    """
    lock = os.open(path.parent, os.O_RDONLY)  # lock the folder: no stray lock file
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = load(path)
        data.update({name: _rounded(value) for name, value in figures.items()})
        text = json.dumps(dict(sorted(data.items())), indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results.", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; it is a plain report
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    finally:
        os.close(lock)  # also releases the lock
    return data


def _rounded(value: Figure) -> Figure:
    if isinstance(value, float):
        return float(f"{value:.4g}")
    return value
