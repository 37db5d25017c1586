"""A second API server process for ``test_tokens.py``: the same database and blob folder as
the test's own server, served by the real server configuration on a free loopback port.

Usage: ``python serve_child.py <json>`` where the JSON names the database URL, blob folder,
local AWS endpoint, vendor account and vendor role ARN. It prints its URL once it serves,
then serves until it is terminated.
"""

from __future__ import annotations

import json
import sys

import uvicorn

from byok.api import create_app
from byok.api.server import server_config, tcp_listener
from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.service.vendor import Vendor
from byok.settings import Settings
from byok.store.blobs import FilesystemBlobStore
from byok.store.database import Store


def main() -> None:
    args = json.loads(sys.argv[1])
    aws = AwsSettings(
        endpoint_url=args["endpoint"], max_attempts=2,
        base_credentials=StaticCredentials(f"ROOT{args['account']}", "local-secret"),
        document_storage_role_arn=args["role_arn"],
    )  # fmt: skip
    vendor = Vendor(
        Settings(vendor_account=args["account"]), store=Store.open(args["url"]),
        blobs=FilesystemBlobStore(args["blobs"]), factory=ClientFactory(aws),
    )  # fmt: skip
    app = create_app(vendor, console=False)
    sock = tcp_listener()
    server = uvicorn.Server(server_config(app, log_level="warning", lifespan="off"))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
