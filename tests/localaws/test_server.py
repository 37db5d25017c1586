"""Starting and stopping the local AWS: CLI, ``python -m``, in-process server."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from byok.cli.main import app
from byok.localaws.server import LocalAwsServer
from byok.localaws.testing import LocalAws

pytestmark = pytest.mark.localaws


def test_help_explains_ports_accounts_and_faults() -> None:
    result = CliRunner().invoke(app, ["local-aws", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for words in (
        "--port",
        "0 (the default) picks a free port",
        "127.0.0.1",
        "ROOT followed by a 12-digit account id",
        "sts:AssumeRole",
        "/_byok/faults",
        "/_byok/reset",
    ):
        assert words in text, words


@pytest.mark.parametrize(
    "command",
    [
        [str(Path(sys.executable).with_name("byok")), "local-aws", "--port", "0"],
        [sys.executable, "-m", "byok.localaws", "--port", "0"],
    ],
    ids=["byok local-aws", "python -m byok.localaws"],
)
def test_foreground_server_prints_url_first_and_stops_on_sigterm(command: list[str]) -> None:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        first = process.stdout.readline().decode().strip()
        assert first.startswith("http://127.0.0.1:")
        account = LocalAws(first).new_account()
        assert LocalAws(first).client("sts", account).get_caller_identity()["Account"] == account
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_explicit_port_is_used() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with LocalAwsServer(port) as server:
        assert server.endpoint_url == f"http://127.0.0.1:{port}"
        account = LocalAws(server.endpoint_url).new_account()
        assert LocalAws(server.endpoint_url).create_key(account).startswith("arn:aws:kms:")
    with socket.socket() as again:  # stop() released the port
        again.bind(("127.0.0.1", port))


def test_endpoint_url_needs_a_started_server() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = LocalAwsServer().endpoint_url
