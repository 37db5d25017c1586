"""Customer-audit explanation of the levers in the key policy (pure).

``byok customer audit`` answers, by evaluating requests against the customer's own policies
(never by reading the text alone): which access reasons the key policy lets the vendor use,
which scopes and calendar periods it refuses, and whether a use that leaves ``byok:scope``,
``byok:period`` or ``byok:reason`` out of the encryption context would still be allowed (then
a Deny could be sidestepped; ``--require-context`` closes that, docs/CUSTOMER.md).

* ``access-levers`` (INFO): the explanation, when the key policy denies any scope, period or
  reason (without levers every scope, period and reason is allowed).
* ``levers-can-be-sidestepped`` (MEDIUM): some lever denies, but a use without the denied
  context key is still allowed.
"""

from __future__ import annotations

from byok.core.context import (
    ACCESS_REASONS,
    PERIOD_CONTEXT_KEY,
    REASON_CONTEXT_KEY,
    SCOPE_CONTEXT_KEY,
)
from byok.core.policy.document import PolicyDocument
from byok.core.setup_checks import AuditSubject, Finding, Severity, key_user, kms_allows

__all__ = ["lever_findings", "named_values"]

_FIX_STRICT = (
    "Add the strict statements: `byok customer setup ... --require-context` (or `byok customer "
    "policy ... --require-context` and paste the statements), once every tenant key of yours "
    "was written with scopes."
)


def named_values(policy: PolicyDocument, context_key: str) -> list[str]:
    """Every value a key-policy condition compares ``kms:EncryptionContext:<context_key>`` to,
    with a period pattern's ``-*``/``T*`` suffix removed; in order, without repeats."""
    wanted = f"kms:encryptioncontext:{context_key}".lower()
    seen: dict[str, None] = {}
    for statement in policy.statements:
        for condition in statement.conditions:
            if condition.key.lower() != wanted:
                continue
            for value in condition.values:
                plain = value.removesuffix("-*").removesuffix("T*")
                if plain and "*" not in plain and "?" not in plain:
                    seen.setdefault(plain, None)
    return list(seen)


def lever_findings(audit: AuditSubject) -> list[Finding]:
    """See the module docstring.

    Returns:
        Nothing when the vendor cannot use the key at all (``vendor-cannot-use-key`` says so)
        or nothing is denied; else ``access-levers`` and possibly
        ``levers-can-be-sidestepped``.
    """
    user = key_user(audit)
    if not kms_allows(audit, user, "kms:Decrypt", audit.tenant):
        return []

    def allows(key: str, value: str | None) -> bool:
        return kms_allows(audit, user, "kms:Decrypt", audit.tenant, context={key: value})

    reasons = {r: allows(REASON_CONTEXT_KEY, r) for r in ACCESS_REASONS}
    scopes = [
        s
        for s in named_values(audit.key_policy, SCOPE_CONTEXT_KEY)
        if not allows(SCOPE_CONTEXT_KEY, s)
    ]
    periods = [
        p
        for p in named_values(audit.key_policy, PERIOD_CONTEXT_KEY)
        if not allows(PERIOD_CONTEXT_KEY, p)
    ]
    denied_reasons = [r for r, ok in reasons.items() if not ok]
    if not (scopes or periods or denied_reasons):
        return []  # no lever: every scope, period and reason is allowed (nothing to explain)
    evidence = (
        f"access reasons allowed: {', '.join(r for r, ok in reasons.items() if ok) or 'none'}"
        f"; denied: {', '.join(denied_reasons) or 'none'}"
        f". Scopes denied: {', '.join(scopes) or 'none'} (every other scope allowed)"
        f". Periods denied: {', '.join(periods) or 'none'} (and their sub-periods)."
    )
    findings = [
        Finding(
            "access-levers",
            Severity.INFO,
            "What the key policy lets the vendor use the key for",
            evidence,
            "To refuse a scope, a period or a reason: `byok customer policy --deny-scope S "
            "--deny-period P --deny-reason vendor-support` (docs/CUSTOMER.md).",
        )
    ]
    sidestep = [
        key
        for key, denied in (
            (SCOPE_CONTEXT_KEY, scopes), (PERIOD_CONTEXT_KEY, periods),
            (REASON_CONTEXT_KEY, denied_reasons),
        )
        if denied and allows(key, None)
    ]  # fmt: skip
    if sidestep:
        findings.append(
            Finding(
                "levers-can-be-sidestepped",
                Severity.MEDIUM,
                "A Deny on scope, period or reason can be sidestepped by leaving the key out",
                f"a use without {', '.join(sidestep)} in the encryption context is allowed",
                _FIX_STRICT,
            )
        )
    return findings
