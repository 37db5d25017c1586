"""Tell "the customer refuses this scope, period or reason" from "the customer revoked the key".

A customer's key policy can deny one ``byok:scope``, one ``byok:period`` or one
``byok:reason`` (docs/SECURITY.md#customer-levers). KMS answers both that and a whole-key
revocation with the same ``AccessDeniedException``, so when a call whose context carries those
keys is refused, :func:`classify_refusal` asks KMS itself: one ``kms:Encrypt`` of a probe value
under a neutral context (a scope, period and reason no customer denies), then one per
dimension with only that value taken from the refused context. If the neutral probe is refused
too, the key as a whole is denied (the caller purges and marks the tenant unavailable);
otherwise the dimensions whose value alone is refused are what the customer denies, and only
that use is refused. Probes carry ``byok:tk = byok-refusal-probe`` so they are recognisable in
the customer's CloudTrail; their ciphertext is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from byok.core.context import (
    PERIOD_CONTEXT_KEY,
    REASON_CONTEXT_KEY,
    SCOPE_CONTEXT_KEY,
    TK_CONTEXT_KEY,
)
from byok.errors import KeyAccessDenied

__all__ = ["LEVER_KEYS", "PROBE_TK", "classify_refusal", "dimension"]

#: The context keys a customer's key policy can deny on, and their short names.
LEVER_KEYS: Final = {SCOPE_CONTEXT_KEY: "scope", PERIOD_CONTEXT_KEY: "period",
                     REASON_CONTEXT_KEY: "reason"}  # fmt: skip
PROBE_TK: Final = "byok-refusal-probe"
_NEUTRAL: Final = {SCOPE_CONTEXT_KEY: "byok-probe", PERIOD_CONTEXT_KEY: "2000-01"}
_PROBE_VALUE: Final = b"byok refusal probe, not a key...."

#: ``probe(context)`` makes one kms:Encrypt under ``context``; it raises KeyAccessDenied when
#: the customer's policy refuses it.
Probe = Callable[[Mapping[str, str]], object]


def dimension(context_key: str) -> str:
    """The short name of a lever context key (``byok:scope`` → ``scope``)."""
    return LEVER_KEYS[context_key]


def classify_refusal(context: Mapping[str, str], probe: Probe) -> dict[str, str] | None:
    """What the customer's key policy refuses about ``context`` (a refused call's context).

    Returns:
        ``{"scope": ..., "period": ..., "reason": ...}`` (only the refused dimensions; all of
        the context's when only their combination is refused), or None when the key refuses
        even a neutral context (a whole-key denial) or the context carries no lever key.

    Raises:
        TransientKmsError and other errors of ``probe`` except KeyAccessDenied.
    """
    present = [key for key in LEVER_KEYS if key in context]
    if not present:
        return None
    neutral = {**context, TK_CONTEXT_KEY: PROBE_TK, **_NEUTRAL}
    neutral[REASON_CONTEXT_KEY] = (
        "vendor-service" if context.get(REASON_CONTEXT_KEY) == "customer-request"
        else "customer-request"
    )  # fmt: skip
    if not _allowed(probe, neutral):
        return None
    refused = {
        dimension(key): context[key]
        for key in present
        if not _allowed(probe, {**neutral, key: context[key]})
    }
    return refused or {dimension(key): context[key] for key in present}


def _allowed(probe: Probe, context: Mapping[str, str]) -> bool:
    try:
        probe(context)
    except KeyAccessDenied:
        return False
    return True
