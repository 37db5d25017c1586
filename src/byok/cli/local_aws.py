"""``byok local-aws``: the local AWS in the foreground."""

from __future__ import annotations

import typer

_HELP = "\n\n".join(  # one line per paragraph: Rich wraps them to the terminal
    (
        "Serve the local AWS (moto + byok's fidelity layer) on 127.0.0.1.",
        "The first line printed is the endpoint URL (http://127.0.0.1:PORT); point boto3 at it "
        "with endpoint_url. It serves in the foreground until SIGINT (Ctrl-C) or SIGTERM.",
        "PORTS: --port N serves on 127.0.0.1:N; --port 0 (the default) picks a free port. Only "
        "loopback is served.",
        "ACCOUNTS: an access key id made of ROOT followed by a 12-digit account id, with any "
        "secret key, is that account's root user (e.g. ROOT111122223333). Every other identity is "
        "made with ordinary AWS calls: IAM users and access keys, roles, sts:AssumeRole. Unknown "
        "access keys are refused, as in AWS.",
        'FAULTS: POST /_byok/faults with JSON {"service": "kms", "operation": "Decrypt" or "*", '
        '"kind": "throttle" | "error5xx" | "reset" | "latency", "rate": 0.0-1.0, "latency_ms": N, '
        '"count": N, "status": 500|503, "account": "...", "seed": N}; DELETE /_byok/faults clears '
        "them; POST /_byok/reset wipes all state.",
        "See docs/local-aws.md for what it enforces and what only real AWS can prove.",
    )
)


def local_aws_command(
    port: int = typer.Option(
        0, "--port", "-p", min=0, max=65535, help="TCP port on 127.0.0.1; 0 picks a free port."
    ),
    json_output: bool = typer.Option(
        False, "--json", help='The first line is {"endpoint_url": ...} as JSON instead of the URL.'
    ),
) -> None:
    from byok.localaws.server import serve_until_signalled

    raise typer.Exit(serve_until_signalled(port, as_json=json_output))


local_aws_command.__doc__ = _HELP
