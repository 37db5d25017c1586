"""Files the CLI writes: private (0600) and all-or-nothing.

:func:`atomic_output` writes into a temporary file in the target's own directory (created 0600
by :func:`tempfile.mkstemp`, whatever the umask), flushes and fsyncs it, and only then renames it
over the target. Any failure half-way (an integrity error in the third frame, a full disk,
Ctrl-C) removes the temporary file: the target keeps its old content or does not exist, and no
``.partial`` is left behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

from byok.errors import StorageError

__all__ = ["atomic_output"]


Writer = contextlib.AbstractContextManager


@overload
def atomic_output(path: Path, mode: Literal["wb"] = "wb") -> Writer[IO[bytes]]: ...
@overload
def atomic_output(path: Path, mode: Literal["w"]) -> Writer[IO[str]]: ...


def atomic_output(path: Path, mode: Literal["wb", "w"] = "wb") -> Writer[IO[Any]]:
    """Open ``path`` for an all-or-nothing, owner-only write (``"wb"`` or text ``"w"``, UTF-8)."""
    return _atomic(path, mode)


@contextlib.contextmanager
def _atomic(path: Path, mode: str) -> Iterator[IO[Any]]:
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".partial")
    except OSError as exc:
        raise _cannot_write(path, exc) from exc
    temp = Path(temp_name)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as sink:
            yield sink
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temp, path)
    except OSError as exc:  # a full disk, a target that is a directory...
        temp.unlink(missing_ok=True)
        raise _cannot_write(path, exc) from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _cannot_write(path: Path, exc: OSError) -> StorageError:
    return StorageError(
        f"cannot write {path}: {exc.strerror or type(exc).__name__}",
        operation="write-file",
        fix="Give a file in an existing folder you can write to, with free space.",
    )


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (best effort: some file systems refuse a directory fsync)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
