"""The benchmarks' child processes: start one that prints a line when it is ready, stop it.

``bench/api.py`` and ``bench/hostile.py`` run the local AWS and their server this way; the
child's stderr is kept in a temporary file and shown if it does not start.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["LOCAL_AWS", "running", "start_child", "stop_child", "without_aws_env"]

#: The project's local AWS on a free port; its ready line is the endpoint URL.
LOCAL_AWS = ("-m", "byok.localaws", "--port", "0")
_START_TIMEOUT_S = 120.0


def without_aws_env() -> dict[str, str]:
    """This process's environment without ``AWS_*`` (a child must not reach a real account)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def start_child(
    command: list[str], *, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a child that prints one line when ready; return it and that line.

    Raises:
        SystemExit: no line within two minutes (the message ends with the child's stderr).
    """
    log = tempfile.TemporaryFile()  # noqa: SIM115 - the child's stderr until it exits
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log,
                             stdin=subprocess.DEVNULL, env=env)  # fmt: skip
    assert child.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ)
        ready = selector.select(_START_TIMEOUT_S)
    line = child.stdout.readline().decode().strip() if ready else ""
    if not line:
        child.kill()
        child.wait()
        log.seek(0)
        raise SystemExit(f"{command[1:3]} did not start: {log.read().decode()[-3000:]}")
    return child, line


def stop_child(child: subprocess.Popen[bytes]) -> None:
    """Terminate ``child`` and wait for it (killed after 15 s)."""
    child.terminate()
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


@contextmanager
def running(command: list[str], *, env: dict[str, str] | None = None) -> Iterator[str]:
    """:func:`start_child` for the ``with`` block; yields the ready line, stops it after.

    Raises:
        SystemExit: as :func:`start_child`.
    """
    child, line = start_child(command, env=env)
    try:
        yield line
    finally:
        stop_child(child)
