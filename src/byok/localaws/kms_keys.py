"""Finding KMS keys across accounts and regions, and AWS's key-state rules.

AWS KMS Developer Guide, "Key identifiers": a key of another account must be named by its key
ARN (or alias ARN); a bare key id or alias name means the caller's own account and the
request's region. A ciphertext names its key, so Decrypt and ReEncrypt find the key (in any
account) from the ciphertext itself. moto keeps keys per account and region and knows none of
this, so the fidelity layer locates the key here and hands the call to the owner's backend.

"Key states and their effects": a Disabled key refuses cryptographic operations with
``DisabledException``; a key pending deletion refuses them (and enabling, disabling,
rescheduling) with ``KMSInvalidStateException``.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from dataclasses import dataclass
from typing import Any

from byok.localaws.wire import AwsError

__all__ = [
    "CRYPTO_OPERATIONS",
    "KeyIndex",
    "KeyRef",
    "check_state",
    "ciphertext_bytes",
    "kms_backend",
]

_KMS_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:kms:([a-z0-9-]+):([0-9]{12}):(key|alias)/(.+)")
_KEY_ID_LEN = 36  # moto's ciphertext starts with the 36-character key id
_MIN_CIPHERTEXT = _KEY_ID_LEN + 12 + 16

CRYPTO_OPERATIONS = frozenset(
    {
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "Sign",
        "Verify",
        "GenerateMac",
        "VerifyMac",
        "GetPublicKey",
        "DeriveSharedSecret",
    }
)
_REFUSED_WHEN_PENDING = frozenset(
    {
        "EnableKey",
        "DisableKey",
        "EnableKeyRotation",
        "DisableKeyRotation",
        "ScheduleKeyDeletion",
        "RotateKeyOnDemand",
    }
)
_CIPHERTEXT_UNKNOWN = (
    "The ciphertext refers to a customer master key that does not exist, does not exist in "
    "this region, or you are not allowed to access."
)


@dataclass(frozen=True)
class KeyRef:
    """A located key: its owning account and region and moto's key object."""

    account: str
    region: str
    key: Any

    @property
    def arn(self) -> str:
        """The key ARN."""
        return str(self.key.arn)

    def resource(self) -> dict[str, str]:
        """The CloudTrail ``resources`` entry of this key."""
        return {"accountId": self.account, "type": "AWS::KMS::Key", "ARN": self.arn}


def kms_backend(account: str, region: str) -> Any:
    """moto's KMS backend of ``account`` in ``region``, or None if it was never used.

    Never creates a backend: a key ARN naming an unknown account stays unknown.
    """
    from moto.kms.models import kms_backends

    per_account = dict.get(kms_backends, account)
    return None if per_account is None else dict.get(per_account, region)


class KeyIndex:
    """Key id → (account, region), to find the key a ciphertext names in any account."""

    def __init__(self) -> None:
        self._where: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every key (after a reset)."""
        with self._lock:
            self._where.clear()

    def add(self, key_id: str, account: str, region: str) -> None:
        """Remember where ``key_id`` lives."""
        with self._lock:
            self._where[key_id] = (account, region)

    def find(self, key_id: str) -> KeyRef | None:
        """The key with this id in any account and region, or None."""
        where = self._where.get(key_id)
        if where is not None:
            backend = kms_backend(*where)
            key = None if backend is None else backend.keys.get(key_id)
            if key is not None:
                return KeyRef(where[0], where[1], key)
        from moto.kms.models import kms_backends

        for account, per_account in list(kms_backends.items()):
            for region, backend in list(per_account.items()):
                if key_id in backend.keys:
                    self.add(key_id, account, region)
                    return KeyRef(account, region, backend.keys[key_id])
        return None

    def all_keys(self) -> list[KeyRef]:
        """Every key of every account and region."""
        from moto.kms.models import kms_backends

        return [
            KeyRef(account, region, key)
            for account, per_account in list(kms_backends.items())
            for region, backend in list(per_account.items())
            for key in list(backend.keys.values())
        ]

    def locate(self, reference: str, account: str, region: str) -> KeyRef:
        """Resolve a KeyId parameter (key ARN, alias ARN, key id or alias name).

        ``account`` and ``region`` are the caller's, used for bare ids and alias names.

        Raises:
            AwsError: NotFoundException if there is no such key or alias.
        """
        if not isinstance(reference, str) or not reference:
            raise AwsError("ValidationException", "KeyId is required.")
        match = _KMS_ARN.fullmatch(reference)
        if match:
            region, account, kind, name = match[1], match[2], match[3], match[4]
        elif reference.startswith("alias/"):
            kind, name = "alias", reference[len("alias/") :]
        else:
            kind, name = "key", reference
        backend = kms_backend(account, region)
        key_id: str | None = name
        if kind == "alias":
            key_id = None if backend is None else backend.get_key_id_from_alias(f"alias/{name}")
            if key_id is None:
                raise AwsError(
                    "NotFoundException",
                    f"Alias arn:aws:kms:{region}:{account}:alias/{name} is not found.",
                )
        key = None if backend is None else backend.keys.get(key_id)
        if key is None:
            raise AwsError(
                "NotFoundException",
                f"Key 'arn:aws:kms:{region}:{account}:key/{key_id}' does not exist",
            )
        return KeyRef(account, region, key)

    def locate_ciphertext(self, blob: Any) -> tuple[KeyRef, bytes]:
        """Find the key a (base64) ciphertext blob was made under, in any account.

        Returns:
            The key and the decoded blob.

        Raises:
            AwsError: InvalidCiphertextException if the blob is not a ciphertext;
                AccessDeniedException (AWS's message) if its key does not exist.
        """
        raw = ciphertext_bytes(blob)
        key_id = raw[:_KEY_ID_LEN].decode("ascii", "replace")
        found = self.find(key_id)
        if found is None:
            raise AwsError("AccessDeniedException", _CIPHERTEXT_UNKNOWN)
        return found, raw


def ciphertext_bytes(blob: Any) -> bytes:
    """The decoded (base64) ciphertext blob.

    Raises:
        AwsError: InvalidCiphertextException if it is not base64 of a moto ciphertext.
    """
    try:
        raw = base64.b64decode(blob, validate=True) if isinstance(blob, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) < _MIN_CIPHERTEXT:
        raise AwsError("InvalidCiphertextException", "The ciphertext is invalid.")
    return raw


def check_state(operation: str, ref: KeyRef) -> None:
    """Refuse ``operation`` if the key's state does not allow it (as AWS KMS does).

    Raises:
        AwsError: DisabledException or KMSInvalidStateException.
    """
    state = ref.key.key_state
    if operation in CRYPTO_OPERATIONS:
        if state == "Disabled":
            raise AwsError("DisabledException", f"{ref.arn} is disabled.")
        if state != "Enabled":
            raise AwsError("KMSInvalidStateException", f"{ref.arn} is {_state_words(state)}.")
    elif operation in _REFUSED_WHEN_PENDING and state == "PendingDeletion":
        raise AwsError("KMSInvalidStateException", f"{ref.arn} is pending deletion.")
    elif operation == "CancelKeyDeletion" and state != "PendingDeletion":
        raise AwsError("KMSInvalidStateException", f"{ref.arn} is not pending deletion.")


def _state_words(state: str) -> str:
    return (
        "pending deletion"
        if state == "PendingDeletion"
        else re.sub(r"(?<!^)([A-Z])", r" \1", state).lower()
    )
