"""The thread bridges used for streaming (no AWS, no server)."""

from __future__ import annotations

import threading
from typing import IO

import pytest

from byok.api.streams import iter_text_writer


def test_export_stream_yields_everything_in_order() -> None:
    def produce(out: IO[str]) -> None:
        for i in range(1000):
            out.write(f"{i}\n")

    text = b"".join(iter_text_writer(produce, depth=4)).decode()
    assert text.splitlines() == [str(i) for i in range(1000)]


def test_producer_error_reaches_the_consumer_after_the_lines_before_it() -> None:
    def produce(out: IO[str]) -> None:
        out.write("a\n")
        raise RuntimeError("database went away")

    received: list[bytes] = []
    with pytest.raises(RuntimeError, match="database went away"):
        for chunk in iter_text_writer(produce):
            received.append(chunk)
    assert b"".join(received) == b"a\n"


def test_closing_early_stops_the_producer() -> None:
    stopped = threading.Event()

    def produce(out: IO[str]) -> None:
        try:
            while True:
                out.write("x" * 100)
        finally:
            stopped.set()

    chunks = iter_text_writer(produce, depth=2)
    assert next(chunks).startswith(b"x")
    chunks.close()  # the client went away
    assert stopped.wait(5)
