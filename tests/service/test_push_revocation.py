"""Push revocation receiver and key-loss policy (service level, over the local AWS).

Hostile cases: no secret, a wrong secret, an unknown tenant (one refusal for all), a stale
event, a replayed event id (acts once), a forged "DisableKey" for a key that is fine (only a
re-probe: the state stays ACTIVE), a huge or malformed body. And the real thing: the
customer disables the key, the event arrives, the tenant is KEY_UNAVAILABLE and purged.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from byok.core.key_use import CUSTOMER_REQUEST, KeyUse
from byok.core.policy.templates.levers import AccessLevers
from byok.errors import InvalidInput, UseRefused
from byok.service.key_events import MAX_EVENT_BYTES, KeyEventReceiver, KeyEventRejected
from byok.service.key_loss import KeyLossJob, set_key_policy
from byok.service.scopes import configure_scopes
from byok.service.vendor import Vendor
from byok.store.key_policies import KeyLossAction
from byok.store.schema import TenantState
from support.world import CustomerAccount, build_vendor, new_customer, onboard_direct

pytestmark = pytest.mark.localaws


@pytest.fixture
def setup(
    local_aws: Any, database_url: str, tmp_path: Path
) -> Iterator[tuple[Vendor, CustomerAccount]]:
    vendor, role_arn = build_vendor(local_aws, database_url, tmp_path / "blobs")
    customer = new_customer(local_aws, role_arn)
    onboard_direct(vendor, customer, "acme")
    vendor.put_document("acme", "doc", b"secret")
    yield vendor, customer
    vendor.store.close()


def event(name: str = "DisableKey", *, when: datetime | None = None, event_id: str = "") -> bytes:
    moment = when or datetime.now(UTC)
    return json.dumps({
        "version": "0", "id": event_id or str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.kms",
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail": {"eventSource": "kms.amazonaws.com", "eventName": name},
    }).encode()  # fmt: skip


def kms_calls(vendor: Vendor) -> int:
    counts: Mapping[str, int] = vendor.factory.counts()
    return sum(v for k, v in counts.items() if k.startswith("kms."))


def test_unauthenticated_events_are_refused_alike(setup: tuple[Vendor, CustomerAccount]) -> None:
    vendor, _ = setup
    receiver = KeyEventReceiver(vendor)
    secret = vendor.policies.new_event_secret("acme")
    refusals = []
    for tenant, given in (("acme", None), ("acme", "byokev_wrong"), ("nobody", secret),
                          ("acme", secret[:-1])):  # fmt: skip
        with pytest.raises(KeyEventRejected) as caught:
            receiver.receive(tenant, given, event())
        refusals.append(caught.value.message)
    assert len(set(refusals)) == 1  # nothing tells a wrong secret from an unknown tenant
    assert vendor.tenants.get("acme").state == TenantState.ACTIVE


def test_stale_and_malformed_events_are_refused(setup: tuple[Vendor, CustomerAccount]) -> None:
    vendor, _ = setup
    receiver = KeyEventReceiver(vendor)
    secret = vendor.policies.new_event_secret("acme")
    with pytest.raises(KeyEventRejected):
        receiver.receive("acme", secret, event(when=datetime.now(UTC) - timedelta(minutes=10)))
    with pytest.raises(KeyEventRejected):
        receiver.receive("acme", secret, event(when=datetime.now(UTC) + timedelta(minutes=10)))
    for body in (b"not json", b"[]", b'{"id": "x"}', b'{"time": "2026-01-01T00:00:00Z"}',
                 b"{" + b" " * MAX_EVENT_BYTES + b"}"):  # fmt: skip
        with pytest.raises(InvalidInput):
            receiver.receive("acme", secret, body)


def test_a_forged_revocation_event_only_costs_a_probe(
    setup: tuple[Vendor, CustomerAccount],
) -> None:
    vendor, _ = setup
    receiver = KeyEventReceiver(vendor)
    secret = vendor.policies.new_event_secret("acme")
    outcome = receiver.receive("acme", secret, event("ScheduleKeyDeletion"))
    assert (outcome.outcome, outcome.state) == ("accessible", "ACTIVE")
    assert vendor.get_document("acme", "doc").read_all() == b"secret"


def test_a_replayed_event_acts_once(setup: tuple[Vendor, CustomerAccount]) -> None:
    vendor, _ = setup
    receiver = KeyEventReceiver(vendor)
    secret = vendor.policies.new_event_secret("acme")
    body = event(event_id="evt-1")
    assert receiver.receive("acme", secret, body).outcome == "accessible"
    before = kms_calls(vendor)
    assert receiver.receive("acme", secret, body).outcome == "duplicate"
    assert kms_calls(vendor) == before  # no probe for a replay
    assert receiver.prune() == 0  # still inside the replay window: kept
    later = KeyEventReceiver(vendor, clock=lambda: time.time() + 3 * 300)
    assert later.prune() == 1  # outside every replay window: forgotten, and a replay is stale
    with pytest.raises(KeyEventRejected):
        later.receive("acme", secret, body)


def test_a_real_revocation_event_marks_the_tenant_and_purges(
    setup: tuple[Vendor, CustomerAccount],
) -> None:
    vendor, customer = setup
    receiver = KeyEventReceiver(vendor)
    secret = vendor.policies.new_event_secret("acme")
    assert vendor.get_document("acme", "doc").read_all() == b"secret"  # the key is cached
    assert len(vendor.cache) >= 1
    customer.kms().disable_key(KeyId=customer.key_arn)
    outcome = receiver.receive("acme", secret, event("DisableKey"))
    assert (outcome.outcome, outcome.code, outcome.state) == (
        "revoked",
        "disabled",
        "KEY_UNAVAILABLE",
    )
    assert vendor.cache.purge_tenant("acme") == 0  # nothing left to purge
    customer.kms().enable_key(KeyId=customer.key_arn)
    recovered = receiver.receive("acme", secret, event("EnableKey"))
    assert (recovered.outcome, recovered.state) == ("accessible", "ACTIVE")


def test_a_key_policy_event_makes_a_new_lever_bite_at_once_on_every_node(
    setup: tuple[Vendor, CustomerAccount],
) -> None:
    """PutKeyPolicy may add a Deny on one scope that the probe's own key does not touch: the
    tenant stays ACTIVE, and every node drops its cached keys so the lever applies at the
    next use instead of after the revocation bound."""
    vendor, customer = setup
    receiver = KeyEventReceiver(vendor)
    secret = vendor.policies.new_event_secret("acme")
    configure_scopes(vendor, "acme", rules=[("legal/", "legal"), ("notes/", "notes")])
    vendor.put_document("acme", "legal/nda.txt", b"privileged", KeyUse(CUSTOMER_REQUEST))
    vendor.put_document("acme", "notes/a.txt", b"newest key, notes scope")  # the probe's key
    assert vendor.get_document("acme", "legal/nda.txt").read_all() == b"privileged"  # cached
    customer.key_policy(customer.vendor_role_arn, tenant="acme",
                        levers=AccessLevers(deny_scopes=("legal",)))  # fmt: skip
    outcome = receiver.receive("acme", secret, event("PutKeyPolicy"))
    assert (outcome.outcome, outcome.state) == ("accessible", "ACTIVE")
    with pytest.raises(UseRefused):  # at once, not after the bound
        vendor.get_document("acme", "legal/nda.txt")
    assert vendor.get_document("acme", "notes/a.txt").read_all() == b"newest key, notes scope"


def test_outage_grace_is_bounded_and_audited(setup: tuple[Vendor, CustomerAccount]) -> None:
    vendor, _ = setup
    with pytest.raises(InvalidInput, match="outage_grace_s"):
        set_key_policy(vendor, "acme", outage_grace_s=vendor.settings.revocation_bound_s + 1)
    assert set_key_policy(vendor, "acme", outage_grace_s=30).outage_grace_s == 30
    vendor.active_wrapper("acme")  # the grace reaches the cache with the tenant's state
    assert vendor.policies.get("acme").to_dict()["outage_grace_s"] == 30


class Webhook:
    def __init__(self) -> None:
        self.notices: list[Mapping[str, Any]] = []

    def __call__(self, url: str, secret: str, notice: Mapping[str, Any]) -> bool:
        assert url == "https://hooks.example/byok" and len(secret) == 64
        self.notices.append(notice)
        return True


def test_key_loss_policy_notifies_then_shreds(setup: tuple[Vendor, CustomerAccount]) -> None:
    vendor, customer = setup
    clock = {"now": datetime.now(UTC)}
    vendor.store.clock = lambda: clock["now"]
    set_key_policy(vendor, "acme", webhook_url="https://hooks.example/byok", notify_every_s=600,
                   on_key_loss="shred", shred_after_s=7200)  # fmt: skip
    hook = Webhook()
    job = KeyLossJob(vendor, notifier=hook)
    assert job.sweep() == []  # ACTIVE: nothing to do
    customer.kms().disable_key(KeyId=customer.key_arn)
    vendor.check_key("acme")
    assert vendor.tenants.get("acme").state == TenantState.KEY_UNAVAILABLE
    assert job.sweep() == [("acme", "started")]
    clock["now"] += timedelta(seconds=601)
    assert job.sweep() == [("acme", "notified")]
    clock["now"] += timedelta(seconds=7200)
    assert job.sweep() == [("acme", "notified"), ("acme", "shredded")]
    assert [n["type"] for n in hook.notices] == [
        "key-unavailable", "key-still-unavailable", "key-still-unavailable",
        "tenant-crypto-shredded"]  # fmt: skip
    assert vendor.tenants.get("acme").state == TenantState.OFFBOARDED
    assert vendor.tenant_keys.list("acme") == []
    actions = [e.event.operation for e in vendor.audit.events(tenant="acme")]
    for step in ("tenant:key-policy", "key-loss:started", "key-loss:notified", "key-loss:shred"):
        assert step in actions


def test_keep_is_the_default_and_recovery_is_notified(
    setup: tuple[Vendor, CustomerAccount],
) -> None:
    vendor, customer = setup
    set_key_policy(vendor, "acme", webhook_url="https://hooks.example/byok")
    assert vendor.policies.get("acme").on_key_loss == KeyLossAction.KEEP
    hook = Webhook()
    job = KeyLossJob(vendor, notifier=hook)
    customer.kms().disable_key(KeyId=customer.key_arn)
    vendor.check_key("acme")
    assert job.sweep() == [("acme", "started")]
    customer.kms().enable_key(KeyId=customer.key_arn)
    assert vendor.check_key("acme") == TenantState.ACTIVE
    assert job.sweep() == [("acme", "recovered")]
    assert vendor.tenant_keys.list("acme")  # nothing shredded
