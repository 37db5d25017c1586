"""Pytest plugin: a session-wide local AWS in a subprocess (the ``local_aws`` fixture).

The fixture runs ``python -m byok.localaws --port 0``, reads the endpoint URL from its first
line of output, and kills it at the end of the session. It returns a
:class:`byok.localaws.testing.LocalAws`; tests isolate themselves with
``local_aws.new_account()`` instead of resetting. ``BYOK_LOCAL_AWS_URL`` set to the URL of a
server already running makes the fixture use that one instead.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

import pytest

from byok.localaws.testing import LocalAws

__all__ = ["local_aws"]

_START_TIMEOUT_S = 60.0


def _start(log: IO[bytes]) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "byok.localaws", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(_START_TIMEOUT_S)
    line = process.stdout.readline().decode().strip() if ready else ""
    if not line.startswith("http://"):
        process.kill()
        process.wait()
        log.seek(0)
        raise RuntimeError(f"the local AWS did not start: {log.read().decode()[-2000:]}")
    return process, line


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    """The session's local AWS (a :class:`~byok.localaws.testing.LocalAws`)."""
    existing = os.environ.get("BYOK_LOCAL_AWS_URL")
    if existing:
        yield LocalAws(existing)
        return
    with tempfile.TemporaryFile() as log:  # the server's stderr, shown if it fails to start
        process, url = _start(log)
        try:
            yield LocalAws(url)
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
