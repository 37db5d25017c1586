"""The customer's levers: key-policy Deny statements on byok's encryption-context keys.

byok puts the scope, the calendar period and the access reason of every tenant-key use into
the KMS encryption context (``byok:scope``, ``byok:period``, ``byok:reason``), so the
*customer's own key policy* can refuse one scope, one period or one reason while everything
else keeps working, in the customer's account, with every refusal in its CloudTrail
(docs/SECURITY.md#customer-levers). Each lever is one Deny statement on the key user for the
four actions that carry an encryption context:

* ``deny_scopes``: ``StringEquals kms:EncryptionContext:byok:scope`` = the scope names;
* ``deny_periods``: ``StringLike kms:EncryptionContext:byok:period`` = each period ``P`` and
  its sub-periods (``P``, ``P-*``, ``PT*``: ``2026-11`` also covers ``2026-11-05`` and
  ``2026-11-05T10``);
* ``deny_reasons``: ``StringEquals kms:EncryptionContext:byok:reason`` = the reasons;
* ``require_context`` (strict): refuse any use whose context lacks ``byok:scope``,
  ``byok:period`` or ``byok:reason`` (the audit anchor, which carries ``byok:audit-head``,
  stays allowed). Without it a vendor could sidestep a Deny by leaving the key out of the
  context; the call would still show in CloudTrail without it. Turn it on once every tenant
  key was written with scopes (docs/CUSTOMER.md).

An explicit Deny in the key policy wins over every Allow, including the client role's own IAM
policy in Option B (AWS IAM User Guide, "Policy evaluation logic").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from byok.core.context import (
    ACCESS_REASONS,
    PERIOD_CONTEXT_KEY,
    REASON_CONTEXT_KEY,
    SCOPE_CONTEXT_KEY,
)
from byok.core.key_use import SCOPE_RULE as RULE
from byok.core.key_use import check_scope
from byok.errors import InvalidInput

__all__ = [
    "LEVER_NOTES",
    "AccessLevers",
    "lever_sids",
    "lever_statements",
    "period_patterns",
    "validate_period",
    "validate_scope",
]

#: The actions that carry an encryption context (as ``policies.CONTEXT_ACTIONS``).
_CONTEXT_ACTIONS: Final = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*")
_PERIOD = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2})?)?)?")
_ANCHOR_KEY: Final = "kms:EncryptionContext:byok:audit-head"
_SIDS: Final = {
    "scopes": "Deny {who} the denied scopes",
    "periods": "Deny {who} the denied periods",
    "reasons": "Deny {who} the denied access reasons",
    "strict-scope": "Deny {who} any use without a scope",
    "strict-period": "Deny {who} any use without a period",
    "strict-reason": "Deny {who} any use without an access reason",
}


#: Printed beside a lever (docs/SECURITY.md#customer-levers): what it does not reach.
LEVER_NOTES: Final = {
    "scope": (
        "NOTE: scope names are the vendor's, per tenant (the vendor's `byok tenant scopes`; "
        "your tenant-admin reads them at the API's key-policy). A name that is no scope of "
        "yours refuses nothing; documents outside every named scope are in 'default'."
    ),
    "strict": (
        "NOTE: --require-context also refuses tenant keys made before the vendor's byok "
        "stated scope, period and reason; ask the vendor to restate them first (`byok "
        "tenant restate-keys`, while the old context is still allowed). Every key made "
        "since states all three."
    ),
}


def validate_scope(scope: str, field: str = "deny_scope") -> str:
    """Return ``scope`` if it is a scope name (1-64 of letters, digits, ``. _ -``).

    Raises:
        InvalidInput: naming ``field``, with the rule.
    """
    return check_scope(scope, field, fix="Use the scope's name as the vendor shows it: " + RULE)


def validate_period(period: str, field: str = "deny_period") -> str:
    """Return ``period`` if it is a calendar period: ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or
    ``YYYY-MM-DDTHH`` (UTC).

    Raises:
        InvalidInput: naming ``field``, with the accepted forms.
    """
    ok = isinstance(period, str) and _PERIOD.fullmatch(period) is not None
    if ok:
        parts = [int(p) for p in re.split(r"[-T]", period)]
        limits = [(0, 9999), (1, 12), (1, 31), (0, 23)]
        ok = all(low <= value <= high for value, (low, high) in zip(parts, limits, strict=False))
    if not ok:
        raise InvalidInput(
            field, f"{str(period)!r:.40} is not a period",
            fix="Give a UTC calendar period: 2026, 2026-11, 2026-11-05 or 2026-11-05T10.",
        )  # fmt: skip
    return period


def period_patterns(period: str) -> list[str]:
    """The ``StringLike`` patterns matching ``period`` and every sub-period of it."""
    return [period, f"{period}-*", f"{period}T*"]


@dataclass(frozen=True)
class AccessLevers:
    """What the customer's key policy refuses, on top of the tenant condition.

    Raises:
        InvalidInput: on construction, naming the malformed scope, period or reason.
    """

    deny_scopes: tuple[str, ...] = field(default=())
    deny_periods: tuple[str, ...] = field(default=())
    deny_reasons: tuple[str, ...] = field(default=())
    require_context: bool = False

    def __post_init__(self) -> None:
        for scope in self.deny_scopes:
            validate_scope(scope)
        for period in self.deny_periods:
            validate_period(period)
        for reason in self.deny_reasons:
            if reason not in ACCESS_REASONS:
                raise InvalidInput(
                    "deny_reason", f"{str(reason)!r:.40} is not an access reason",
                    fix="Use one of: " + ", ".join(ACCESS_REASONS) + ".",
                )  # fmt: skip

    @property
    def any(self) -> bool:
        """True when at least one lever is set."""
        return bool(self.deny_scopes or self.deny_periods or self.deny_reasons)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "deny_scopes": list(self.deny_scopes), "deny_periods": list(self.deny_periods),
            "deny_reasons": list(self.deny_reasons), "require_context": self.require_context,
        }  # fmt: skip


def lever_sids(who: str) -> tuple[str, ...]:
    """Every Sid a lever statement may have for key user ``who`` (to replace them on merge)."""
    return tuple(template.format(who=who) for template in _SIDS.values())


def lever_statements(key_user: Any, who: str, levers: AccessLevers) -> list[dict[str, Any]]:
    """The Deny statements for ``levers`` on ``key_user`` (``who`` names it in the Sids).

    Returns:
        Zero to four statements, in the order scopes, periods, reasons, strict.
    """
    statements: list[dict[str, Any]] = []
    principal = {"AWS": key_user}
    if levers.deny_scopes:
        condition = {"StringEquals": {_key(SCOPE_CONTEXT_KEY): list(levers.deny_scopes)}}
        statements.append(_deny(_SIDS["scopes"].format(who=who), principal, condition))
    if levers.deny_periods:
        patterns = [p for period in levers.deny_periods for p in period_patterns(period)]
        condition = {"StringLike": {_key(PERIOD_CONTEXT_KEY): patterns}}
        statements.append(_deny(_SIDS["periods"].format(who=who), principal, condition))
    if levers.deny_reasons:
        condition = {"StringEquals": {_key(REASON_CONTEXT_KEY): list(levers.deny_reasons)}}
        statements.append(_deny(_SIDS["reasons"].format(who=who), principal, condition))
    if levers.require_context:
        statements += _strict(principal, who)
    return statements


def _strict(principal: dict[str, Any], who: str) -> list[dict[str, Any]]:
    # One statement per key (the keys of one Null block are ANDed with each other), each with
    # ``byok:audit-head`` absent too, so the audit anchor (which has no scope) stays allowed.
    keys = {"scope": SCOPE_CONTEXT_KEY, "period": PERIOD_CONTEXT_KEY, "reason": REASON_CONTEXT_KEY}
    return [
        _deny(
            _SIDS[f"strict-{name}"].format(who=who),
            principal,
            {"Null": {_key(key): "true", _ANCHOR_KEY: "true"}},
        )
        for name, key in keys.items()
    ]


def _deny(sid: str, principal: dict[str, Any], condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "Sid": sid, "Effect": "Deny", "Principal": principal,
        "Action": list(_CONTEXT_ACTIONS), "Resource": "*", "Condition": condition,
    }  # fmt: skip


def _key(context_key: str) -> str:
    return f"kms:EncryptionContext:{context_key}"
