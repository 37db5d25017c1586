"""A migrating process killed with SIGKILL mid-way: every TK row is in its old or its new
state, the job's lease keeps a second job out until it expires, and a re-run finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lifecycle_world import (
    TENANT,
    new_direct_config,
    onboard_direct,
    read_all,
    second_key,
    write_documents,
)

from byok.errors import Conflict
from byok.service.lifecycle import migrate_tenant
from byok.store.lifecycle import migration_counts
from support.world import World

CHILD = Path(__file__).with_name("migrate_child.py")
LEASE_S = 1.5


@pytest.mark.localaws
def test_a_killed_migration_resumes(local_aws: Any, sqlite_world: World, tmp_path: Path) -> None:
    vendor, old = sqlite_world.vendor, sqlite_world.customer
    onboard_direct(vendor, old)
    written = write_documents(vendor, 20)  # 10 TKs
    new = second_key(old)
    version = new_direct_config(vendor, new)
    aws = vendor.factory.settings
    assert aws.base_credentials is not None
    spec = {
        "url": str(vendor.store.engine.url), "blobs": str(tmp_path / "blobs"),
        "endpoint": local_aws.endpoint_url, "account": vendor.settings.vendor_account,
        "role_arn": aws.document_storage_role_arn, "tenant": TENANT, "version": version,
        "lease_ttl_s": LEASE_S, "home": str(vendor.settings.home),
    }  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, str(CHILD), json.dumps(spec)], stdout=subprocess.PIPE, text=True,
        env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 30
        while migration_counts(vendor.store, TENANT, version)[0] < 3:
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    done, total = migration_counts(vendor.store, TENANT, version)
    assert 3 <= done < total == 10
    read_all(vendor, written)  # every row is readable, old or new state

    with pytest.raises(Conflict, match="another migration"):
        migrate_tenant(vendor, TENANT, to_version=version)  # the dead job's lease holds
    time.sleep(LEASE_S)
    report = migrate_tenant(vendor, TENANT, to_version=version)
    assert report.complete and report.already_done == done
    assert report.kms_calls == {"kms:ReEncrypt": total - done}
    old.kms().disable_key(KeyId=old.key_arn)
    vendor.envelope.purge_tenant(TENANT)
    read_all(vendor, written)
