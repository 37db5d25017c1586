"""The customer's levers are enforced by the customer's own key policy, in (local) AWS KMS.

``byok customer setup`` with ``--deny-scope``/``--deny-period``/``--deny-reason`` writes Deny
statements; the vendor's calls that carry a denied scope, period or reason in the encryption
context are refused by KMS, everything else keeps working, and the refusals are in the
customer's CloudTrail. Both options (B: the client role's own IAM policy allows, the key
policy's Deny still wins).
"""

from __future__ import annotations

import calendar
from typing import Any

import pytest
from botocore.exceptions import ClientError
from customer_world import Vendor, setup_for, vendor_kms

from byok.aws.kms import KmsKeyWrapper
from byok.core.envelope import Envelope
from byok.core.policy.templates import AccessLevers
from byok.core.tenant_config import TenantKeyConfig
from byok.core.tenant_keys import MemoryTenantKeyStore
from byok.customer.aws import CustomerAws
from byok.customer.setup import run_setup
from byok.errors import UseRefused

pytestmark = pytest.mark.localaws

LEVERS = AccessLevers(
    deny_scopes=("hr",), deny_periods=("2026-10",), deny_reasons=("vendor-support",)
)


def _context(**overrides: str) -> dict[str, str]:
    base = {
        "byok:tenant": "acme", "byok:tk": "tk-1", "byok:scope": "default",
        "byok:period": "2026-12", "byok:reason": "customer-request",
    }  # fmt: skip
    return base | overrides


def _allowed(kms: Any, key_arn: str, context: dict[str, str]) -> bool:
    try:
        kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256", EncryptionContext=context)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDeniedException"
        return False
    return True


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_key_policy_refuses_denied_scope_period_and_reason_only(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws, mode: str
) -> None:
    result = run_setup(aws, vendor.identity, setup_for(account, mode, levers=LEVERS))
    kms = vendor_kms(local_aws, vendor, result.handover)
    key = result.key_arn
    assert _allowed(kms, key, _context())
    assert _allowed(kms, key, _context() | {"byok:reason": "vendor-service"})
    assert not _allowed(kms, key, _context() | {"byok:scope": "hr"})
    assert _allowed(kms, key, _context() | {"byok:scope": "hr-archive"})  # exact names only
    assert not _allowed(kms, key, _context() | {"byok:period": "2026-10"})
    assert not _allowed(kms, key, _context() | {"byok:period": "2026-10-05T10"})
    assert _allowed(kms, key, _context() | {"byok:period": "2026-01"})
    assert not _allowed(kms, key, _context() | {"byok:reason": "vendor-support"})
    # Without --require-context, leaving the key out sidesteps the Deny (the audit says so).
    assert _allowed(kms, key, {"byok:tenant": "acme", "byok:tk": "tk-1"})

    refused = [
        e for e in local_aws.lookup_events(account, resource_name=key)
        if e["eventName"] == "GenerateDataKey" and e.get("errorCode")
    ]  # fmt: skip
    assert len(refused) == 4  # every refusal is in the customer's own CloudTrail


def test_require_context_refuses_a_use_without_the_keys_but_not_the_audit_anchor(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    strict = AccessLevers(deny_reasons=("vendor-support",), require_context=True)
    result = run_setup(aws, vendor.identity, setup_for(account, "direct", levers=strict))
    kms = vendor_kms(local_aws, vendor, result.handover)
    key = result.key_arn
    assert _allowed(kms, key, _context())
    assert not _allowed(kms, key, {"byok:tenant": "acme", "byok:tk": "tk-1"})
    context = _context()
    del context["byok:scope"]
    assert not _allowed(kms, key, context)
    anchor = {"byok:tenant": "acme", "byok:audit-seq": "7", "byok:audit-head": "ab" * 32}
    kms.encrypt(KeyId=key, Plaintext=b"byok-audit-anchor-v1", EncryptionContext=anchor)


def test_deny_period_refuses_that_months_tenant_key_and_not_the_next(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    """Real tenant keys (one per month); then the customer denies November in its key policy:
    its KMS refuses November's documents, December's keep being read and written."""
    result = run_setup(aws, vendor.identity, setup_for(account, "direct"))
    store, clock = MemoryTenantKeyStore(), _Clock(calendar.timegm((2026, 11, 15, 0, 0, 0)))
    wrapper = KmsKeyWrapper(
        TenantKeyConfig("acme", "direct", result.key_arn),
        vendor_kms(local_aws, vendor, result.handover),
    )
    writer = Envelope(store, clock=clock)
    november = writer.encrypt("acme", wrapper, "nov", b"old")
    clock.now = calendar.timegm((2026, 12, 1, 0, 0, 0))
    december = writer.encrypt("acme", wrapper, "dec", b"kept")

    levers = AccessLevers(deny_periods=("2026-11",))
    run_setup(aws, vendor.identity, setup_for(account, "direct", levers=levers))
    reader = Envelope(store, clock=clock)  # a fresh process: nothing cached
    with pytest.raises(UseRefused) as refused_use:  # only that period: nothing is purged
        reader.decrypt("acme", wrapper, "nov", november)
    assert refused_use.value.refused == {"period": "2026-11"}
    assert reader.decrypt("acme", wrapper, "dec", december) == b"kept"
    assert (
        reader.decrypt("acme", wrapper, "dec2", reader.encrypt("acme", wrapper, "dec2", b"new"))
        == b"new"
    )
    refused = [
        e for e in local_aws.lookup_events(account, resource_name=result.key_arn)
        if e["eventName"] == "Decrypt" and e.get("errorCode")
    ]  # fmt: skip
    assert [e["requestParameters"]["encryptionContext"]["byok:period"] for e in refused] == [
        "2026-11"
    ]  # the refusal is in the customer's CloudTrail, naming the period


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now
