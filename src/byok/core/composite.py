"""The composite wrap: a wrapped tenant key sealed under the tenant's vendor key too.

docs/SECURITY.md#offboarding-and-backups. A TK is wrapped by the customer's CMK (KMS); the
vendor stores that KMS ciphertext only **sealed** under a per-tenant vendor key that lives
outside the database and its backups. Reading a TK needs both: the vendor key to unseal the
KMS ciphertext, the customer's CMK to unwrap it. Offboarding destroys the vendor key, so a
database backup no longer yields any KMS ciphertext to ask KMS about, even while the
customer's key policy still grants the vendor.

```
sealed = "BYOKSEAL" ‖ u8(1) ‖ nonce(12) ‖ AES-256-GCM(vendor key, nonce, KMS ciphertext,
                                                     A = canonical {byok:tenant, byok:tk})
```
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from byok.core.context import canonical_context, tenant_key_context
from byok.core.raw_keys import VendorKey
from byok.errors import IntegrityError, InvalidInput

__all__ = ["SEAL_MAGIC", "SEAL_VERSION", "seal_wrapped", "unseal_wrapped"]

SEAL_MAGIC = b"BYOKSEAL"
#: The ``tenant_keys.seal`` value of a sealed row (0: the KMS ciphertext as is).
SEAL_VERSION = 1
_HEAD = SEAL_MAGIC + bytes((SEAL_VERSION,))
_NONCE_BYTES = 12


def seal_wrapped(vendor_key: VendorKey, tk_id: str, wrapped: bytes) -> bytes:
    """Seal a TK's KMS ciphertext under the tenant's vendor key (fresh random nonce).

    Raises:
        InvalidInput: ``tk_id`` is malformed or ``wrapped`` is empty.
    """
    if not wrapped:
        raise InvalidInput("wrapped", "is empty")
    aad = canonical_context(tenant_key_context(vendor_key.tenant, tk_id))
    nonce = os.urandom(_NONCE_BYTES)
    return _HEAD + nonce + AESGCM(vendor_key.material).encrypt(nonce, bytes(wrapped), aad)


def unseal_wrapped(vendor_key: VendorKey, tk_id: str, sealed: bytes) -> bytes:
    """The KMS ciphertext inside ``sealed`` (for this tenant and TK id only).

    Raises:
        IntegrityError: not a seal, another tenant's or TK's, altered, or another vendor key.
    """
    if len(sealed) < len(_HEAD) + _NONCE_BYTES + 16 or not sealed.startswith(_HEAD):
        raise IntegrityError(tenant=vendor_key.tenant, operation="tk:unseal")
    aad = canonical_context(tenant_key_context(vendor_key.tenant, tk_id))
    nonce, body = (
        sealed[len(_HEAD) : len(_HEAD) + _NONCE_BYTES],
        sealed[len(_HEAD) + _NONCE_BYTES :],
    )
    try:
        return AESGCM(vendor_key.material).decrypt(nonce, body, aad)
    except InvalidTag:
        raise IntegrityError(tenant=vendor_key.tenant, operation="tk:unseal") from None
