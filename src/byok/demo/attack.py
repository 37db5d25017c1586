"""The demo's refused attack: a tenant hands over another tenant's key (docs/SECURITY.md).

acme's tenant-admin, over the REST API, submits globex's key ARN as acme's key. On a vendor
that trusted the hand-over, verification would pass (the vendor's role may use globex's key)
and acme's data would be wrapped under globex's key. Here the binding checks refuse it and
say which check caught it; the answer never names globex.
"""

from __future__ import annotations

import httpx

from byok.demo.narration import Narrator
from byok.service.vendor import Vendor
from byok.store.tokens import TokenRepository

__all__ = ["refused_attack"]


def refused_attack(say: Narrator, vendor: Vendor, api_url: str, victim_key_arn: str) -> None:
    """Run the attack as acme's tenant-admin and require it to be refused."""
    with say.step("attack: acme's tenant-admin hands over globex's key ARN", "acme (hostile)"):
        token = TokenRepository(vendor.store).mint("tenant-admin", tenant="acme").token
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"{api_url}/v1/tenants/acme", headers=headers,
                          timeout=30) as api:  # fmt: skip
            submitted = api.post("/key-configs", json={"mode": "direct",
                                                      "key_arn": victim_key_arn})  # fmt: skip
            say.expect(submitted.status_code == 201, "the hand-over is stored (PENDING)")
            version = submitted.json()["version"]
            report = api.post("/verify", json={"version": version}).json()
            failed = [c for c in report["checks"] if c["status"] == "failed"]
            say.table("verification of acme's hand-over", ["check", "result", "evidence"],
                      [[c["name"], c["status"], c["evidence"]] for c in failed])  # fmt: skip
            say.expect(not report["passed"] and failed[0]["name"] == "not_bound_elsewhere",
                       "caught by the check not_bound_elsewhere")  # fmt: skip
            activated = api.post("/activate", json={"version": version})
            say.expect(activated.status_code == 409, "activation refused (409: not verified)")
            texts = submitted.text + str(report) + activated.text
            say.expect("globex" not in texts, "no answer names the other tenant")
        active = vendor.tenants.active_config("acme")
        say.expect(active is not None and active.config.key_arn != victim_key_arn,
                   "acme still runs on its own key")  # fmt: skip
