"""An in-memory :class:`~byok.core.keywrap.KeyWrapper` for pure tests and benchmarks.

It behaves like a KMS key where it matters to the envelope: a wrapped key authenticates its
encryption context (AES-256-GCM, canonical context as associated data) and the root key's ARN,
a wrong context or blob is an :class:`~byok.errors.IntegrityError`, and the customer can
"revoke" access (:meth:`MemoryKeyWrapper.revoke`) so every later call raises a
:class:`~byok.errors.CustomerAccessError`. It counts calls per KMS operation.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from byok.core.context import canonical_context
from byok.core.keywrap import DataKey, KeyWrapper, UnwrappedKey
from byok.errors import CustomerAccessError, IntegrityError, InvalidInput, KeyAccessDenied

__all__ = ["DEFAULT_ARN", "MemoryKeyWrapper"]

_NONCE_BYTES = 12
DEFAULT_ARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"


class MemoryKeyWrapper:
    """A root key held in process memory, standing in for a customer's CMK.

    Args:
        key_arn: the ARN it reports (and authenticates into every wrapped key).
        root_key: 32 bytes; default random.
        rng: randomness for data keys and nonces (inject for reproducible vectors).

    Attributes:
        calls: how many times each operation ran (``GenerateDataKey``, ``Decrypt``,
            ``ReEncrypt``), including refused calls.
    """

    def __init__(
        self,
        key_arn: str = DEFAULT_ARN,
        root_key: bytes | None = None,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        key = rng(32) if root_key is None else root_key
        if len(key) != 32:
            raise InvalidInput("root_key", "must be 32 bytes")
        self._arn = key_arn
        self._aead = AESGCM(key)
        self._rng = rng
        self._lock = threading.Lock()
        self._refusal: Callable[[], CustomerAccessError] | None = None
        self._denied: set[tuple[str, str]] = set()
        self._requests = 0
        self.calls: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"MemoryKeyWrapper(key_arn={self._arn!r})"

    @property
    def key_arn(self) -> str:
        """The ARN this wrapper reports."""
        return self._arn

    def revoke(self, error: Callable[[], CustomerAccessError] | None) -> None:
        """Make every later call raise ``error()`` (e.g. ``KeyDisabled``); None restores access."""
        with self._lock:
            self._refusal = error

    def deny_context(self, key: str, value: str, denied: bool = True) -> None:
        """Refuse (``KeyAccessDenied``) every call whose context has ``key`` = ``value``, as a
        customer's key-policy Deny on ``kms:EncryptionContext:<key>`` does."""
        with self._lock:
            (self._denied.add if denied else self._denied.discard)((key, value))

    def _begin(self, operation: str, context: Mapping[str, str] | None = None) -> str:
        with self._lock:
            self.calls[operation] += 1
            self._requests += 1
            refusal, number = self._refusal, self._requests
            denied = context is not None and any(p in self._denied for p in context.items())
        if refusal is not None:
            raise refusal()
        if denied:
            raise KeyAccessDenied("the key policy denies this encryption context")
        return f"mem-{number:08d}"

    def _aad(self, context: Mapping[str, str]) -> bytes:
        return self._arn.encode("utf-8") + b"\x00" + canonical_context(context)

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        """Make a 32-byte data key wrapped under ``context`` (like kms:GenerateDataKey).

        Raises:
            CustomerAccessError: access was revoked (:meth:`revoke`).
            InvalidInput: a malformed context.
        """
        request_id = self._begin("GenerateDataKey", context)
        plaintext = self._rng(32)
        nonce = self._rng(_NONCE_BYTES)
        wrapped = nonce + self._aead.encrypt(nonce, plaintext, self._aad(context))
        return DataKey(plaintext, wrapped, self._arn, request_id)

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> UnwrappedKey:
        """Recover a data key (like kms:Decrypt).

        Raises:
            CustomerAccessError: access was revoked.
            IntegrityError: the blob or the context is not the one it was wrapped with.
        """
        request_id = self._begin("Decrypt", context)
        return UnwrappedKey(self._open(wrapped, context), self._arn, request_id)

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> DataKey:
        """Wrap an existing data key under ``context`` (like kms:Encrypt).

        Raises:
            CustomerAccessError: access was revoked, or the context is denied.
        """
        request_id = self._begin("Encrypt", context)
        nonce = self._rng(_NONCE_BYTES)
        wrapped = nonce + self._aead.encrypt(nonce, bytes(plaintext), self._aad(context))
        return DataKey(bytes(plaintext), wrapped, self._arn, request_id)

    def rewrap(
        self, wrapped: bytes, context: Mapping[str, str], destination: KeyWrapper
    ) -> DataKey:
        """Re-wrap under ``destination`` (like kms:ReEncrypt; plaintext briefly in memory).

        Returns:
            A :class:`DataKey` with empty ``plaintext`` (as when the key never left KMS).

        Raises:
            CustomerAccessError: access was revoked (here or at the destination).
            IntegrityError: the blob or context does not authenticate.
        """
        self._begin("ReEncrypt")
        plaintext = self._open(wrapped, context)
        if not isinstance(destination, MemoryKeyWrapper):
            raise InvalidInput("destination", "must be a MemoryKeyWrapper")
        request_id = destination._begin("ReEncrypt")
        nonce = destination._rng(_NONCE_BYTES)
        blob = nonce + destination._aead.encrypt(nonce, plaintext, destination._aad(context))
        return DataKey(b"", blob, destination.key_arn, request_id)

    def _open(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        if len(wrapped) < _NONCE_BYTES + 16:
            raise IntegrityError(operation="kms:Decrypt")
        try:
            return self._aead.decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], self._aad(context)
            )
        except InvalidTag:
            raise IntegrityError(operation="kms:Decrypt") from None
