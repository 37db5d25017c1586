"""Three ``byok serve`` processes over PostgreSQL and the local AWS's S3, under load.

The customer disables the key with boto3; the local AWS delivers the CloudTrail-shaped key
event to one node's receiver (the customer's forwarding rule). Asserted:

* push: no node serves the revoked tenant after the push deadline, though their caches
  held its key for a 4 s bound; the other tenant keeps being served throughout;
* a node with its signal listener stopped still refuses within the bound (pull backstop);
* a node SIGKILLed during writes loses no committed document (every acknowledged write
  reads back from the surviving nodes).
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from byok.localaws.testing import LocalAws
from support.cluster import Cluster, Node, TenantHandle
from support.databases import empty_tables

pytestmark = [pytest.mark.postgres, pytest.mark.localaws]

BOUND_S = 4.0
PUSH_DEADLINE_S = 3.0  # the goal is ~1 s; generous on a loaded 2-core machine
SLACK_S = 1.5


class Load:
    """Writers and readers through every node, both tenants; remembers acknowledged writes."""

    def __init__(self, cluster: Cluster, tenants: list[TenantHandle]) -> None:
        self.cluster, self.tenants = cluster, tenants
        self.stop = threading.Event()
        self.acked: dict[tuple[str, str], bytes] = {}  # (tenant, name) -> data, 201 only
        self.served: dict[tuple[str, str], float] = {}  # (node, tenant) -> last 2xx time
        self.lock = threading.Lock()
        self.counter = itertools.count()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                        for n in range(4)]  # fmt: skip

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def _run(self, worker: int) -> None:
        while not self.stop.is_set():
            for node in list(self.cluster.nodes):
                if node.process.poll() is not None:
                    continue
                for handle in self.tenants:
                    self._one(worker, node, handle)

    def _one(self, worker: int, node: Node, handle: TenantHandle) -> None:
        name = f"w{worker}-{next(self.counter)}"
        data = f"{handle.tenant}:{name}".encode()
        try:
            status = self.cluster.put(node, handle, name, data)
        except (OSError, http.client.HTTPException):  # killed mid-request: not acknowledged
            return
        now = time.monotonic()
        with self.lock:
            if status in (200, 201):
                self.acked[(handle.tenant, name)] = data
            if status < 300:
                self.served[(node.name, handle.tenant)] = now


@pytest.fixture
def cluster(local_aws: LocalAws, postgres_session_url: str, tmp_path: Path) -> Any:
    empty_tables(postgres_session_url)
    built = Cluster(local_aws, postgres_session_url, BOUND_S, tmp_path / "home")
    yield built
    built.close()


@pytest.mark.timeout(240)
def test_push_revocation_reaches_every_node_and_nothing_committed_is_lost(
    cluster: Cluster, local_aws: LocalAws
) -> None:
    acme, globex = cluster.onboard("acme"), cluster.onboard("globex")
    pushed = cluster.start(3)
    deaf = cluster.start(1, no_listener=(3,))[0]
    target = cluster.forward_events(acme, pushed[0])
    try:
        for node in cluster.nodes:  # every node caches both tenants' keys
            for handle in (acme, globex):
                assert cluster.put(node, handle, f"warm-{node.name}", b"x") in (200, 201)
        with Load(cluster, [acme, globex]) as load:
            time.sleep(1.0)
            pushed[2].kill()  # a crash during writes
            time.sleep(0.5)
            revoked_at = time.monotonic()
            acme.kms(local_aws).disable_key(KeyId=acme.key_arn)
            time.sleep(BOUND_S + SLACK_S)
            last = dict(load.served)
        live = [pushed[0], pushed[1]]
        for node in live:
            delay = last.get((node.name, "acme"), 0.0) - revoked_at
            assert delay < PUSH_DEADLINE_S, f"{node.name} served acme {delay:.2f} s after"
            assert last[(node.name, "globex")] > revoked_at + BOUND_S  # others unaffected
        deaf_delay = last.get((deaf.name, "acme"), 0.0) - revoked_at
        assert deaf_delay < BOUND_S + SLACK_S, f"the deaf node served {deaf_delay:.2f} s after"
        for node in [*live, deaf]:  # and now every node refuses acme, with the deny code
            status, problem = cluster.get(node, acme, "warm-node0")
            assert status == 503 and problem["code"] == "disabled", (node.name, problem)
        lost = [key for key, data in load.acked.items() if key[0] == "globex"
                and cluster.get(pushed[0], globex, key[1]) != (200, data)]  # fmt: skip
        assert lost == [], f"{len(lost)} acknowledged documents are gone"
        outcomes = [d for d in local_aws.event_deliveries() if d["target"] == target]
        assert any(d["event_name"] == "DisableKey" and d["status"] == 202 for d in outcomes)
    finally:
        local_aws.remove_event_target(target)
