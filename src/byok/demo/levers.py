"""The demo's lever scene: the customer refuses one scope and vendor support, nothing else.

The vendor puts acme's ``legal/`` documents in their own scope. acme's admin re-runs ``byok
customer setup`` with ``--deny-scope legal --deny-reason vendor-support``: two Deny statements
in acme's own key policy. Within the revocation bound the vendor's reads of ``legal/`` and its
support reads are refused by acme's KMS, naming what is refused; acme's own requests for every
other document keep working and the tenant stays ACTIVE. acme's CloudTrail shows the refusals
with their scope and reason; lifting the levers restores both.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from byok.core.key_use import CUSTOMER_REQUEST, KeyUse
from byok.core.policy.templates import AccessLevers, CustomerSetup
from byok.demo.customer import Customer
from byok.demo.narration import DemoFailed, Narrator
from byok.errors import UseRefused
from byok.service.monitor import KeyMonitor
from byok.service.scopes import configure_scopes

if TYPE_CHECKING:
    from byok.service.vendor import Vendor

__all__ = ["refuse_one_scope"]

CUSTOMER = KeyUse(CUSTOMER_REQUEST)
SUPPORT = KeyUse("vendor-support", ticket="SUP-1042")


def refuse_one_scope(
    say: Narrator, vendor: Vendor, customer: Customer, setup: CustomerSetup, bound_s: float
) -> None:
    """Run the scene for ``setup.tenant`` (see the module docstring); DemoFailed if not."""
    tenant = setup.tenant
    with say.step(f"put {tenant}'s legal/ documents in their own scope", "vendor"):
        configure_scopes(vendor, tenant, rules=[("legal/", "legal")])
        vendor.put_document(tenant, "legal/nda.txt", b"privileged", CUSTOMER)
        support = vendor.get_document(tenant, "contracts/000.txt", SUPPORT).read_all()
        say.expect(len(support) == 4096, "a support read (ticket SUP-1042) works before")
    levers = AccessLevers(deny_scopes=("legal",), deny_reasons=("vendor-support",))
    with say.step("`byok customer setup --deny-scope legal --deny-reason vendor-support`",
                  "customer"):  # fmt: skip
        customer.setup(replace(setup, levers=levers))
    with say.step(f"only legal/ and support reads are refused, within {bound_s:g}s", "vendor"):
        delay, error = _wait_refused(lambda: vendor.get_document(tenant, "legal/nda.txt", CUSTOMER))
        say.ok(f"legal/ refused {delay:.2f}s after the customer's change: {error.message}")
        say.expect(delay <= bound_s + 1.0, f"within the bound (+1s slack): {delay:.2f}s")
        say.expect(error.refused == {"scope": "legal"}, "the error names the scope")
        refused = say.expect_refused(
            "a support read", lambda: _read(vendor, tenant, "contracts/000.txt", SUPPORT),
            UseRefused,
        )  # fmt: skip
        say.expect(getattr(refused, "refused", None) == {"reason": "vendor-support"},
                   "the error names the reason")  # fmt: skip
        body = _read(vendor, tenant, "contracts/000.txt", CUSTOMER)
        say.expect(len(body) == 4096, "acme's own requests for other documents keep working")
        say.expect(str(vendor.tenants.get(tenant).state) == "ACTIVE", f"{tenant} stays ACTIVE")
        listed = [f"{e['dimension']} {e['value']}" for e in vendor.policies.get(tenant).refused]
        say.ok(f"refused uses listed for {tenant}: {', '.join(listed)}")
    with say.step("`byok customer activity`: the refusals, by reason and scope", "customer"):
        customer.activity_by_reason()
    with say.step("lift the levers", "customer"):
        customer.setup(setup)
    with say.step("the key monitor lifts the listing; legal/ reads again", "vendor"):
        KeyMonitor(vendor, interval_s=30, holder="demo").sweep()
        say.expect(vendor.policies.get(tenant).refused == (), "nothing refused any more")
        time.sleep(2.1)  # past the vendor's 2 s memory of the refusal
        say.expect(_read(vendor, tenant, "legal/nda.txt", CUSTOMER) == b"privileged",
                   "legal/nda.txt reads again")  # fmt: skip
        configure_scopes(vendor, tenant, rules=[])


def _read(vendor: Vendor, tenant: str, name: str, use: KeyUse) -> bytes:
    return vendor.get_document(tenant, name, use).read_all()


def _wait_refused(call: object) -> tuple[float, UseRefused]:
    start = time.monotonic()
    while time.monotonic() - start < 15:
        try:
            call().read_all()  # type: ignore[operator]
        except UseRefused as error:
            return time.monotonic() - start, error
        time.sleep(0.05)
    raise DemoFailed("the scope was never refused after the customer's change")
