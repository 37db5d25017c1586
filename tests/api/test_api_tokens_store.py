"""The token store: hashed at rest, scoped, validated, revocable (no AWS needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from byok.errors import InvalidInput, NotFound
from byok.store import Store
from byok.store.tenants import TenantRepository
from byok.store.tokens import ApiTokenRow, Role, TokenRepository, hash_token, mint_token


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(f"sqlite:///{tmp_path / 'byok.db'}")
    TenantRepository(store).create("acme", name="Acme", external_id="byok-" + "a" * 43)
    return store


def test_only_the_hash_is_stored_and_the_token_authenticates(store: Store) -> None:
    minted = mint_token(store, "writer", tenant="acme", label="ci")
    assert minted.token not in repr(minted)
    with store.read() as session:
        rows = list(session.scalars(select(ApiTokenRow)))
    assert [(r.id, r.token_hash, r.role, r.tenant_id) for r in rows] == [
        (minted.grant.token_id, hash_token(minted.token), "writer", "acme")
    ]
    stored_text = " ".join(str(v) for r in rows for v in vars(r).values())
    assert minted.token.split("_")[-1] not in stored_text
    grant = TokenRepository(store).authenticate(minted.token)
    assert grant is not None and grant.role == Role.WRITER and grant.tenant == "acme"


@pytest.mark.parametrize(
    "token",
    ["", "byok_", "byok__x", "nope", "byok_zz!_secret", "byok_" + "a" * 40 + "_s", "x" * 500],
)
def test_malformed_tokens_are_refused_without_error(store: Store, token: str) -> None:
    assert TokenRepository(store).authenticate(token) is None


def test_scope_rules(store: Store) -> None:
    with pytest.raises(InvalidInput) as caught:
        mint_token(store, "operator", tenant="acme")
    assert caught.value.field == "tenant"
    with pytest.raises(InvalidInput):
        mint_token(store, "reader")
    with pytest.raises(InvalidInput) as caught:
        mint_token(store, "superuser", tenant="acme")
    assert caught.value.field == "role"
    with pytest.raises(NotFound):
        mint_token(store, "reader", tenant="ghost")


def test_revocation_and_listing(store: Store) -> None:
    repo = TokenRepository(store)
    first = repo.mint(Role.READER, tenant="acme")
    second = repo.mint(Role.OPERATOR)
    assert {g.token_id for g in repo.list()} == {first.grant.token_id, second.grant.token_id}
    assert [g.token_id for g in repo.list(tenant="acme")] == [first.grant.token_id]
    with pytest.raises(NotFound):
        repo.revoke(second.grant.token_id, tenant="acme")  # not that tenant's token
    assert repo.revoke(first.grant.token_id).revoked
    assert repo.revoke(first.grant.token_id).revoked  # idempotent
    assert repo.authenticate(first.token) is None
    assert repo.authenticate(second.token) is not None
