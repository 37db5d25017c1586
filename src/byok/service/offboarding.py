"""Offboarding a tenant: crypto-shredding first, then deleting its blobs and rows.

One transaction (``byok.store.lifecycle.shred_tenant``) makes the tenant OFFBOARDED and
deletes every wrapped TK; then the tenant's **vendor key** (the second half of the composite
wrap, kept outside the database: ``byok.store.vendor_keys``) is destroyed. From then on a
database backup plus saved blobs decrypts nothing, even while the customer's key still
grants the vendor: every wrapped TK in such a backup is sealed under the destroyed vendor key
(docs/SECURITY.md#offboarding-and-backups, which also lists what stays decryptable, and by
whom). The report asks the customer to disable or schedule deletion of its key. Only then
are blobs and document rows deleted. A failure after the shred leaves an OFFBOARDED tenant with some
blobs; running the operation again finishes it. Audit events are kept (the chain is
append-only): ``tenant:crypto-shred`` names the destroyed TK ids, ``tenant:offboard`` counts.
"""

from __future__ import annotations

import hmac
from dataclasses import asdict, dataclass
from typing import Any

from byok.errors import InvalidInput
from byok.service.progress import QUIET, Progress
from byok.service.vendor import Vendor
from byok.store.lifecycle import (
    count_document_rows,
    delete_document_rows,
    document_blob_batch,
    shred_tenant,
)

__all__ = ["STILL_DECRYPTABLE", "OffboardReport", "customer_action", "offboard_tenant"]


@dataclass(frozen=True)
class OffboardReport:
    """What :func:`offboard_tenant` destroyed.

    Attributes:
        tenant: the tenant (now OFFBOARDED).
        previous_state: its state before (OFFBOARDED when this run finished an earlier one).
        tk_ids: the TKs crypto-shredded (their wrapped copies deleted).
        key_arns: the customer CMKs that had wrapped them (the vendor no longer needs them).
        document_rows: document rows deleted (every version).
        blobs: blobs deleted (document blobs and orphans under the tenant's prefix).
        configs_retired: key configuration versions retired.
        audit_seq: sequence number of the ``tenant:offboard`` audit event.
        vendor_key_destroyed: the tenant's vendor key was destroyed by this run (False when
            an earlier run did, or the tenant never had one).
        still_decryptable: exactly what remains decryptable, and by whom.
        customer_action: what the customer should do now (disable or delete its key).
    """

    tenant: str
    previous_state: str
    tk_ids: tuple[str, ...]
    key_arns: tuple[str, ...]
    document_rows: int
    blobs: int
    configs_retired: tuple[int, ...]
    audit_seq: int
    vendor_key_destroyed: bool = False
    still_decryptable: str = ""
    customer_action: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form."""
        return asdict(self)


def offboard_tenant(
    vendor: Vendor, tenant: str, *, confirm: str, progress: Progress = QUIET
) -> OffboardReport:
    """Crypto-shred ``tenant``, then delete its blobs and rows (module docstring).

    Args:
        vendor: the vendor service.
        tenant: the tenant id.
        confirm: must equal ``tenant`` (the operator's confirmation).
        progress: where to report blob deletion progress.

    Returns:
        An :class:`OffboardReport`.

    Raises:
        InvalidInput: ``confirm`` is not the tenant id (nothing changed).
        NotFound: no such tenant.
        StorageError: a deletion failed after the shred; run it again to finish.
    """
    if not hmac.compare_digest(confirm.encode(), tenant.encode()):
        raise InvalidInput(
            "confirm", "must repeat the tenant id", tenant=tenant,
            fix="Offboarding destroys every key and document: pass --confirm <tenant id>.",
        )  # fmt: skip
    previous = vendor.tenants.get(tenant).state
    shred = shred_tenant(vendor.store, tenant, detail="offboarded: tenant keys crypto-shredded")
    vendor.forget_tenant(tenant)
    vendor_keys = vendor.tenant_keys.vendor_keys
    destroyed = vendor_keys.destroy(tenant) if vendor_keys is not None else False
    vendor.audit.record(
        "tenant:crypto-shred", tenant=tenant,
        detail={"tk_ids": list(shred.tk_ids), "key_arns": list(shred.key_arns),
                "vendor_key_destroyed": destroyed},
    )  # fmt: skip
    # Ask the customer, through its webhook if it has one, to take the key back (background,
    # never fails the offboarding): until it does, the key still grants the vendor.
    vendor.notifier.notify(
        tenant, "tenant:offboarded",
        {"key_arns": list(shred.key_arns), "customer_action": customer_action(shred.key_arns),
         "still_decryptable": STILL_DECRYPTABLE},
    )  # fmt: skip
    rows, blobs = _delete_documents(vendor, tenant, progress)
    blobs += _delete_orphans(vendor, tenant)
    event = vendor.audit.record(
        "tenant:offboard", tenant=tenant,
        detail={"tk_ids": len(shred.tk_ids), "document_rows": rows, "blobs": blobs,
                "previous_state": str(previous)},
    )  # fmt: skip
    return OffboardReport(
        tenant, str(previous), shred.tk_ids, shred.key_arns, rows, blobs,
        shred.configs_retired, event.event.seq, destroyed, STILL_DECRYPTABLE,
        customer_action(shred.key_arns),
    )  # fmt: skip


#: docs/SECURITY.md#offboarding-and-backups, in the report's words.
STILL_DECRYPTABLE = (
    "Nothing the vendor holds after this run: the wrapped tenant keys are deleted and the "
    "tenant's vendor key is destroyed, so a database backup with saved blobs decrypts nothing, "
    "for anyone, even while the customer's key still grants the vendor. What can still be "
    "decrypted: (1) a database backup taken before its tenant keys were sealed (before this "
    "version of byok first read them) together with saved blobs, by anyone holding both who is "
    "granted kms:Decrypt by the customer's key (the vendor, until the customer revokes it); "
    "(2) a copy of the vendor key folder (BYOK_VENDOR_KEY_DIR) taken before offboarding, "
    "together with a database backup and blobs, likewise; (3) export bundles the customer "
    "received, by the customer. Disabling or deleting the customer's key ends (1) and (2)."
)


def customer_action(key_arns: tuple[str, ...]) -> str:
    """What the report (and the tenant's webhook, if configured) asks the customer to do."""
    keys = ", ".join(key_arns) or "the key it configured"
    return (
        f"Ask the customer to disable or schedule deletion of {keys} (or at least remove the "
        "vendor's key policy statement, grants and client-role trust): until then the key "
        "still grants the vendor. `byok customer audit --offboarded` shows what remains."
    )


def _delete_documents(vendor: Vendor, tenant: str, progress: Progress) -> tuple[int, int]:
    """Delete every document blob, then its row, in batches. Returns (rows, blobs)."""
    rows = blobs = 0
    progress.start("deleting documents", count_document_rows(vendor.store, tenant))
    try:
        while batch := document_blob_batch(vendor.store, tenant):
            for _, blob_key in batch:
                vendor.documents.blobs.delete(blob_key)  # a missing blob is not an error
            blobs += len(batch)
            rows += delete_document_rows(vendor.store, tenant, (i for i, _ in batch))
            progress.advance(len(batch))
    finally:
        progress.stop()
    return rows, blobs


def _delete_orphans(vendor: Vendor, tenant: str) -> int:
    """Blobs under the tenant's prefix that no row named (crashed puts)."""
    orphans = [blob.key for blob in vendor.documents.blobs.list(f"{tenant}/")]
    for key in orphans:
        vendor.documents.blobs.delete(key)
    return len(orphans)
