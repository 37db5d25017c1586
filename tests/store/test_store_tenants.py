"""Tenants, the lifecycle rules, and versioned key configurations."""

from __future__ import annotations

import itertools
import threading

import pytest

from byok.core.tenant_config import TenantKeyConfig
from byok.errors import Conflict, InvalidInput, NotFound, StateError
from byok.store import KeyConfigState, Store, TenantRepository, TenantState
from byok.store.tenants import CONFIG_TRANSITIONS, TENANT_TRANSITIONS

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN_2 = "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
ROLE_ARN = "arn:aws:iam::111122223333:role/byok-client"

ALLOWED = {
    ("PENDING", "VERIFIED"), ("PENDING", "OFFBOARDED"),
    ("VERIFIED", "ACTIVE"), ("VERIFIED", "PENDING"), ("VERIFIED", "OFFBOARDED"),
    ("ACTIVE", "KEY_UNAVAILABLE"), ("ACTIVE", "OFFBOARDED"),
    ("KEY_UNAVAILABLE", "ACTIVE"), ("KEY_UNAVAILABLE", "OFFBOARDED"),
}  # fmt: skip


def _direct(tenant: str, key_arn: str = KEY_ARN) -> TenantKeyConfig:
    return TenantKeyConfig(tenant=tenant, mode="direct", key_arn=key_arn)


def test_create_and_get(tenants: TenantRepository) -> None:
    created = tenants.create("acme", name="Acme Corp", external_id="byok-abc123")
    assert created.state is TenantState.PENDING
    assert tenants.get("acme") == created
    assert tenants.owner_of_external_id("byok-abc123") == "acme"
    assert tenants.owner_of_external_id("byok-other") is None
    assert [t.id for t in tenants.list()] == ["acme"]
    assert tenants.list(state=TenantState.ACTIVE) == []


def test_tenant_ids_and_external_ids_are_unique(tenants: TenantRepository) -> None:
    tenants.create("acme", name="Acme", external_id="byok-abc123")
    with pytest.raises(Conflict):
        tenants.create("acme", name="Acme 2", external_id="byok-fresh1")
    with pytest.raises(Conflict) as caught:
        tenants.create("globex", name="Globex", external_id="byok-abc123")
    assert "acme" not in str(caught.value)  # never names the other tenant


def test_malformed_input_is_refused(tenants: TenantRepository) -> None:
    with pytest.raises(InvalidInput):
        tenants.create("../evil", name="x", external_id="byok-abc123")
    with pytest.raises(InvalidInput):
        tenants.create("ok", name="x", external_id="spaces are not allowed")
    with pytest.raises(InvalidInput):
        tenants.create("ok", name="", external_id="byok-abc123")


def test_unknown_tenant_is_not_found(tenants: TenantRepository) -> None:
    with pytest.raises(NotFound):
        tenants.get("nobody")
    with pytest.raises(NotFound):
        tenants.transition("nobody", TenantState.ACTIVE)


def test_transition_table_is_the_documented_lifecycle() -> None:
    table = {(a.value, b.value) for a, targets in TENANT_TRANSITIONS.items() for b in targets}
    assert table == ALLOWED
    assert TENANT_TRANSITIONS[TenantState.OFFBOARDED] == frozenset()
    assert CONFIG_TRANSITIONS[KeyConfigState.RETIRED] == frozenset()


@pytest.mark.parametrize(
    ("start", "target"), list(itertools.product(list(TenantState), list(TenantState)))
)
def test_every_transition_is_enforced(
    tenants: TenantRepository, store: Store, start: TenantState, target: TenantState
) -> None:
    tenants.create("acme", name="Acme", external_id="byok-abc123")
    _force_state(store, "acme", start)
    if start == target or (start.value, target.value) in ALLOWED:
        assert tenants.transition("acme", target, detail="why").state is target
        assert tenants.get("acme").state_detail == "why"
    else:
        with pytest.raises(StateError):
            tenants.transition("acme", target)
        assert tenants.get("acme").state is start


def _force_state(store: Store, tenant: str, state: TenantState) -> None:
    from byok.store.schema import TenantRow

    with store.write() as session:
        row = session.get(TenantRow, tenant)
        assert row is not None
        row.state = state


def test_transition_with_expected_state(tenants: TenantRepository) -> None:
    tenants.create("acme", name="Acme", external_id="byok-abc123")
    with pytest.raises(StateError):
        tenants.transition("acme", TenantState.VERIFIED, expected=TenantState.ACTIVE)
    tenants.transition("acme", TenantState.VERIFIED, expected=TenantState.PENDING)
    assert tenants.get("acme").state is TenantState.VERIFIED


def test_concurrent_transitions_have_one_winner(tenants: TenantRepository) -> None:
    tenants.create("acme", name="Acme", external_id="byok-abc123")
    outcomes: list[str] = []

    def verify() -> None:
        try:
            tenants.transition("acme", TenantState.VERIFIED, expected=TenantState.PENDING)
            outcomes.append("won")
        except StateError:
            outcomes.append("lost")

    threads = [threading.Thread(target=verify) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost"] * 5 + ["won"]


def test_key_configs_are_versioned(tenants: TenantRepository) -> None:
    tenants.create("acme", name="Acme", external_id="byok-abc123")
    first = tenants.submit_config(_direct("acme"))
    second = tenants.submit_config(
        TenantKeyConfig(
            tenant="acme", mode="assume-role", key_arn=KEY_ARN_2,
            client_role_arn=ROLE_ARN, external_id="byok-abc123", version=7,
        )
    )  # fmt: skip
    assert (first.version, second.version) == (1, 2)
    assert second.config.client_role_arn == ROLE_ARN
    assert second.config.external_id == "byok-abc123"
    assert second.state is KeyConfigState.PENDING
    assert [c.version for c in tenants.configs("acme")] == [1, 2]
    assert tenants.config("acme", 2) == second
    with pytest.raises(NotFound):
        tenants.config("acme", 3)


def test_option_b_must_use_the_tenants_own_external_id(tenants: TenantRepository) -> None:
    tenants.create("acme", name="Acme", external_id="byok-abc123")
    config = TenantKeyConfig(
        tenant="acme", mode="assume-role", key_arn=KEY_ARN,
        client_role_arn=ROLE_ARN, external_id="byok-someone-else",
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        tenants.submit_config(config)
    assert caught.value.field == "external_id"
    assert tenants.configs("acme") == []


def test_only_verified_configs_become_active(tenants: TenantRepository) -> None:
    tenants.create("acme", name="Acme", external_id="byok-abc123")
    tenants.submit_config(_direct("acme"))
    with pytest.raises(StateError):
        tenants.activate_config("acme", 1)
    failed = tenants.record_verification("acme", 1, {"checks": ["x"]}, passed=False)
    assert failed.state is KeyConfigState.FAILED
    assert failed.verification == {"checks": ["x"]}
    with pytest.raises(StateError):
        tenants.activate_config("acme", 1)
    tenants.record_verification("acme", 1, {"checks": ["ok"]}, passed=True)
    active = tenants.activate_config("acme", 1)
    assert active.state is KeyConfigState.ACTIVE
    assert tenants.active_config("acme") == active
    assert tenants.activate_config("acme", 1).state is KeyConfigState.ACTIVE  # idempotent


def test_activating_a_new_config_retires_the_old(tenants: TenantRepository) -> None:
    tenants.create("acme", name="Acme", external_id="byok-abc123")
    for key_arn in (KEY_ARN, KEY_ARN_2):
        version = tenants.submit_config(_direct("acme", key_arn)).version
        tenants.record_verification("acme", version, {}, passed=True)
        tenants.activate_config("acme", version)
    states = [c.state for c in tenants.configs("acme")]
    assert states == [KeyConfigState.RETIRED, KeyConfigState.ACTIVE]
    active = tenants.active_config("acme")
    assert active is not None
    assert active.config.key_arn == KEY_ARN_2
    with pytest.raises(StateError):
        tenants.record_verification("acme", 1, {}, passed=True)


def test_offboarded_tenant_takes_no_new_config(tenants: TenantRepository) -> None:
    tenants.create("acme", name="Acme", external_id="byok-abc123")
    tenants.transition("acme", TenantState.OFFBOARDED)
    with pytest.raises(StateError):
        tenants.submit_config(_direct("acme"))
