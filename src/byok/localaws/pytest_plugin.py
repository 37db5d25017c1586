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

from byok.localaws.event_sink import EventSink
from byok.localaws.testing import LocalAws

__all__ = ["KeyEvents", "key_events", "local_aws"]

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


class KeyEvents:
    """A running :class:`~byok.localaws.event_sink.EventSink` plus the targets pointing at it."""

    def __init__(self, aws: LocalAws, sink: EventSink) -> None:
        self.aws = aws
        self.sink = sink
        self.target_ids: list[str] = []

    def watch(self, account: str, event_names: tuple[str, ...] = ()) -> None:
        """Deliver ``account``'s key events (optionally only these names) to the sink."""
        self.target_ids.append(
            self.aws.add_event_target(self.sink.url, account=account, event_names=event_names)
        )


@pytest.fixture
def key_events(local_aws: LocalAws) -> Iterator[KeyEvents]:
    """A key-event receiver on loopback; ``key_events.watch(account)`` points the local AWS at
    it; the targets are removed and the receiver stopped after the test."""
    with EventSink() as sink:
        events = KeyEvents(local_aws, sink)
        try:
            yield events
        finally:
            for target_id in events.target_ids:
                local_aws.remove_event_target(target_id)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
