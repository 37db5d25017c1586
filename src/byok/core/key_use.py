"""Why and where a tenant key is used: the access reason, the scope and the period unit.

Every use of a tenant key states a :class:`KeyUse` (docs/SECURITY.md#customer-levers). It
becomes the KMS encryption context of the tenant key (``byok:reason``, ``byok:scope``,
``byok:period``), so the *customer's* key policy can refuse one reason, one scope or one
period, and CloudTrail shows each. The reasons:

* ``customer-request``: a call made with the tenant's own token;
* ``vendor-service``: the vendor's own jobs (indexing, export, migration, the key monitor,
  making tenant keys);
* ``vendor-support``: a vendor operator reading a tenant's document; it must name a ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from byok.core.context import DEFAULT_SCOPE, PERIOD_UNITS, check_reason
from byok.errors import InvalidInput

__all__ = [
    "CUSTOMER_REQUEST",
    "SCOPE_PATTERN",
    "SCOPE_RULE",
    "SERVICE_USE",
    "VENDOR_SERVICE",
    "VENDOR_SUPPORT",
    "KeyUse",
    "check_scope",
    "check_ticket",
]

CUSTOMER_REQUEST: Final = "customer-request"
VENDOR_SERVICE: Final = "vendor-service"
VENDOR_SUPPORT: Final = "vendor-support"

#: A scope name: 1-64 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit.
SCOPE_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TICKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:#/-]{0,127}")


#: The rule, in words.
SCOPE_RULE: Final = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit."


def check_scope(scope: str, field: str = "scope", fix: str = "Use " + SCOPE_RULE) -> str:
    """Return ``scope`` if it is a scope name.

    Raises:
        InvalidInput: naming ``field``, with ``fix``.
    """
    if not isinstance(scope, str) or not SCOPE_PATTERN.fullmatch(scope):
        raise InvalidInput(field, f"{str(scope)!r:.70} is not a scope name", fix=fix)
    return scope


def check_ticket(ticket: str, field: str = "ticket") -> str:
    """Return ``ticket`` if it is a support-ticket id (1-128 of letters, digits, ``._:#/-``).

    Raises:
        InvalidInput: naming ``field``.
    """
    if not isinstance(ticket, str) or not _TICKET.fullmatch(ticket):
        raise InvalidInput(
            field, f"{str(ticket)!r:.40} is not a ticket id",
            fix="Give the support ticket's id: 1-128 letters, digits or . _ : # / -.",
        )  # fmt: skip
    return ticket


@dataclass(frozen=True)
class KeyUse:
    """One use of a tenant's keys.

    Attributes:
        reason: the access reason (``byok:reason``).
        scope: the collection the document belongs to (``byok:scope``).
        period_unit: how the tenant's keys are cut in time: ``month``, ``day`` or ``hour``.
        ticket: the support ticket (required for ``vendor-support``, refused otherwise).

    Raises:
        InvalidInput: on construction, naming the malformed field.
    """

    reason: str = VENDOR_SERVICE
    scope: str = DEFAULT_SCOPE
    period_unit: str = "month"
    ticket: str | None = None

    def __post_init__(self) -> None:
        check_reason(self.reason)
        check_scope(self.scope)
        if self.period_unit not in PERIOD_UNITS:
            raise InvalidInput("period_unit", f"must be one of {', '.join(PERIOD_UNITS)}")
        if self.reason == VENDOR_SUPPORT:
            if self.ticket is None:
                raise InvalidInput(
                    "ticket", "is required to read a tenant's document as vendor support",
                    fix="State the support ticket: --reason support --ticket ID.",
                )  # fmt: skip
            check_ticket(self.ticket)
        elif self.ticket is not None:
            raise InvalidInput("ticket", "only a vendor-support use names a ticket")

    def in_scope(self, scope: str, period_unit: str | None = None) -> KeyUse:
        """This use for ``scope`` (and ``period_unit``, if given)."""
        return replace(self, scope=scope, period_unit=period_unit or self.period_unit)

    def audit_detail(self) -> dict[str, str]:
        """What the audit event records about this use."""
        detail = {"reason": self.reason, "scope": self.scope}
        if self.ticket is not None:
            detail["ticket"] = self.ticket
        return detail


#: The use of the vendor's own jobs in the default scope.
SERVICE_USE: Final = KeyUse()
