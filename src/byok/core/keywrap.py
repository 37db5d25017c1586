"""The key-wrapping seam: how the envelope core talks to a root key (the customer's CMK).

The envelope core never imports boto3. It asks a :class:`KeyWrapper` to make, unwrap and
re-wrap tenant keys under an encryption context. ``byok.aws.kms`` implements it with AWS
KMS (GenerateDataKey / Decrypt / ReEncrypt); the envelope core ships an in-memory one for
pure unit tests. This is Tink's "KMS is just another AEAD behind an interface".

Implementations raise only :mod:`byok.errors` types: a refusal by the key owner is a
:class:`~byok.errors.CustomerAccessError`, AWS trouble a
:class:`~byok.errors.TransientKmsError`, a wrapped key that does not authenticate an
:class:`~byok.errors.IntegrityError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["DataKey", "KeyWrapper", "UnwrappedKey"]


@dataclass(frozen=True)
class DataKey:
    """A fresh data key: its plaintext (memory only) and its copy wrapped by the root key.

    Attributes:
        plaintext: 32 key bytes. ``repr=False``: never printed or logged.
        wrapped: the ciphertext blob to store.
        key_arn: the ARN of the root key that wrapped it.
        request_id: the KMS request id (for the audit log), if any.
    """

    plaintext: bytes = field(repr=False)
    wrapped: bytes
    key_arn: str
    request_id: str | None = None


@dataclass(frozen=True)
class UnwrappedKey:
    """A data key recovered from its wrapped form.

    Attributes:
        plaintext: 32 key bytes. ``repr=False``: never printed or logged.
        key_arn: the ARN of the root key that unwrapped it.
        request_id: the KMS request id (for the audit log), if any.
    """

    plaintext: bytes = field(repr=False)
    key_arn: str
    request_id: str | None = None


@runtime_checkable
class KeyWrapper(Protocol):
    """A root key that wraps tenant keys under an encryption context."""

    @property
    def key_arn(self) -> str:
        """The ARN (or, for test wrappers, a stable name) of the root key."""
        ...

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        """Make a new 256-bit data key wrapped under ``context`` (kms:GenerateDataKey)."""
        ...

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> UnwrappedKey:
        """Recover a data key; ``context`` must equal the one it was wrapped with (kms:Decrypt)."""
        ...

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> DataKey:
        """Wrap an existing data key under ``context`` (kms:Encrypt): a TK's per-reason copy,
        or a probe of what the customer's key policy refuses."""
        ...

    def rewrap(
        self, wrapped: bytes, context: Mapping[str, str], destination: KeyWrapper
    ) -> DataKey:
        """Re-wrap under ``destination`` without exposing plaintext where possible (kms:ReEncrypt).

        The returned :class:`DataKey` has empty ``plaintext`` when the key never left KMS.
        """
        ...
