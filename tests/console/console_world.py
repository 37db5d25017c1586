"""The console tests' world: a real Vendor over the local AWS, the real app, tokens.

Tenants are created by the operator (as the vendor does); their customers' AWS actions are
done with the customer toolkit (``byok customer setup``'s :func:`run_setup`) exactly as the
console's wizard tells the admin to; nothing is patched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from byok.aws.clients import StaticCredentials
from byok.core.policy.templates import CustomerSetup, VendorIdentity
from byok.customer.aws import CustomerAws
from byok.customer.setup import run_setup
from byok.service.vendor import Vendor
from byok.store.tokens import mint_token
from support.world import VENDOR_ROLE, build_vendor

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@dataclass
class ConsoleWorld:
    """A vendor, its operator token, and per tenant an admin token."""

    vendor: Vendor
    local_aws: Any
    vendor_role_arn: str
    operator: str
    admins: dict[str, str] = field(default_factory=dict)

    @property
    def identity(self) -> VendorIdentity:
        """The vendor identity the customers' policies name (one role for both options)."""
        return VendorIdentity(self.vendor.settings.vendor_account,
                              customer_facing_role=VENDOR_ROLE,
                              document_storage_role=VENDOR_ROLE)  # fmt: skip

    def new_tenant(self, tenant: str) -> str:
        """Create a PENDING tenant and mint its admin token; returns the token."""
        self.vendor.create_tenant(tenant, name=f"{tenant.title()} Inc.")
        token = mint_token(self.vendor.store, "tenant-admin", tenant=tenant, label="console").token
        self.admins[tenant] = token
        return token

    def customer_setup(
        self, tenant: str, mode: str, *, external_id: str | None = None
    ) -> dict[str, Any]:
        """`byok customer setup` in a fresh customer account; returns the hand-over."""
        account = self.local_aws.new_account()
        root = StaticCredentials(f"ROOT{account}", "local")
        aws = CustomerAws.connect(endpoint_url=self.local_aws.endpoint_url, credentials=root)
        setup = CustomerSetup(tenant, mode, account, external_id=external_id)  # type: ignore[arg-type]
        result = run_setup(aws, self.identity, setup, sleep=lambda _s: None)
        return dict(result.handover) | {"account": account}


def make_world(local_aws: Any, folder: Path) -> ConsoleWorld:
    """A vendor on SQLite in ``folder`` with an operator token."""
    vendor, role_arn = build_vendor(local_aws, f"sqlite:///{folder / 'byok.db'}", folder / "blobs")
    operator = mint_token(vendor.store, "operator", label="console tests").token
    return ConsoleWorld(vendor, local_aws, role_arn, operator)


def sign_in(client: TestClient, token: str) -> str:
    """Sign in; returns the CSRF token of the session's forms."""
    form = client.get("/console/signin")
    csrf = CSRF.search(form.text)
    assert csrf is not None, form.text
    answer = client.post("/console/signin", data={"token": token, "csrf_token": csrf.group(1)})
    assert answer.status_code == 303, answer.text
    home = client.get(answer.headers["location"])
    assert home.status_code == 200, home.text
    found = CSRF.search(home.text)
    assert found is not None
    return found.group(1)
