"""A migrating process for ``test_migration_kill.py``: it runs ``migrate_tenant`` slowly (a
pause after each tenant key) until the test kills it with SIGKILL.

Usage: ``python migrate_child.py <json>`` where the JSON names the database URL, blob folder,
local AWS endpoint, vendor account, vendor role ARN, tenant, target version and lease TTL.
It prints ``started`` once the job holds its lease.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.service.lifecycle import migrate_tenant
from byok.service.progress import QuietProgress
from byok.service.vendor import Vendor
from byok.settings import Settings
from byok.store.blobs import FilesystemBlobStore
from byok.store.database import Store


class Slow(QuietProgress):
    """Announces the start, then pauses after each TK so the test can kill mid-way."""

    def start(self, description: str, total: int, completed: int = 0) -> None:
        print("started", flush=True)

    def advance(self, amount: int = 1) -> None:
        time.sleep(0.15)


def main() -> None:
    args = json.loads(sys.argv[1])
    aws = AwsSettings(
        endpoint_url=args["endpoint"], max_attempts=2,
        base_credentials=StaticCredentials(f"ROOT{args['account']}", "local-secret"),
        document_storage_role_arn=args["role_arn"],
    )  # fmt: skip
    vendor = Vendor(
        Settings(home=Path(args["home"]), vendor_account=args["account"]),
        store=Store.open(args["url"]),
        blobs=FilesystemBlobStore(args["blobs"]), factory=ClientFactory(aws),
    )  # fmt: skip
    migrate_tenant(
        vendor, args["tenant"], to_version=args["version"], progress=Slow(),
        lease_ttl_s=args["lease_ttl_s"], holder="child",
    )  # fmt: skip
    print("finished", flush=True)


if __name__ == "__main__":
    main()
