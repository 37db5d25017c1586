"""Files that hold metadata, keys, exports or plaintext: created 0600 in 0700 folders.

Whatever the process umask, nothing byok writes (the SQLite database and its ``-wal`` and
``-shm`` files, blobs and their folders, export bundles, decrypted documents) is readable by
another local user. Files are created with their mode at ``open`` (never written first and
restricted after), so there is no moment when another user can open them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "create_private_file",
    "make_private_dir",
    "open_private",
    "write_private_text",
]

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and its missing parents as 0700 folders; an existing ``path`` is
    restricted to 0700 when this user owns it (parents that existed are left alone).

    Returns:
        The path.

    Raises:
        OSError: a folder could not be created.
    """
    folder = Path(path)
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for item in reversed(missing):
        try:
            item.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(item, DIR_MODE)  # mkdir's mode is filtered by the umask
    if folder.is_dir() and folder.stat().st_uid == os.getuid() and not missing:
        os.chmod(folder, DIR_MODE)
    return folder


def open_private(path: str | os.PathLike[str], *, exclusive: bool = True) -> BinaryIO:
    """Open ``path`` for binary writing, created with mode 0600.

    Args:
        path: the file.
        exclusive: fail if it exists (``xb``); else truncate it (``wb``, mode tightened).

    Returns:
        The open file.

    Raises:
        FileExistsError: ``exclusive`` and the file exists.
        OSError: it could not be created.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)  # an existing file keeps its mode otherwise
        return os.fdopen(descriptor, "wb")
    except BaseException:
        os.close(descriptor)
        raise


def write_private_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, created or truncated with mode 0600.

    Raises:
        OSError: it could not be written.
    """
    with open_private(path, exclusive=False) as sink:
        sink.write(text.encode("utf-8"))


def create_private_file(path: str | os.PathLike[str]) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist; else restrict it to 0600
    (and its SQLite ``-wal``/``-shm`` companions, which SQLite creates with the database
    file's mode).

    Raises:
        OSError: it could not be created.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
    finally:
        os.close(descriptor)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = Path(f"{os.fspath(path)}{suffix}")
        if companion.exists():
            os.chmod(companion, FILE_MODE)
