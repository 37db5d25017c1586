"""The ``Condition`` element: operator names and how each one is evaluated.

Rules, each from AWS's documentation (IAM User Guide, "IAM JSON policy elements: Condition
operators" and "Conditions with multiple context keys or values"):

* several operators in one ``Condition`` are ANDed; several keys under one operator are ANDed;
  several values for one key are ORed, and for a *negated* operator (``StringNotEquals``,
  ``ArnNotLike`` ...) NORed: the request value must match none of them;
* condition key names are case-insensitive, values are case-sensitive unless the operator
  says ``IgnoreCase``;
* "If the key that you specify in a policy condition is not present in the request context,
  the values do not match and the condition is false. If the policy condition requires that the
  key is *not* matched, such as StringNotLike or ArnNotLike, and the right key is not present,
  the condition is true." The exceptions are ``...IfExists`` (a missing key makes the condition
  true) and ``Null`` (which tests presence itself);
* ``ForAllValues:`` is true when every request value matches, and also when the key is missing
  or empty; ``ForAnyValue:`` is true when at least one request value matches, false when the key
  is missing ("Set operators for multivalued context keys").

A plain (unqualified) operator given a multi-valued request key matches if any request value
matches; its negated form is exactly the complement (no request value matches any policy value).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from byok.core.policy.wildcard import arn_match, wildcard_match

__all__ = [
    "OperatorSpec",
    "condition_holds",
    "is_pattern_operator",
    "parse_operator",
    "supported_operators",
]

Matcher = Callable[[str, str], bool]  # (policy value, request value) -> matched
_NUMBER_RE = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")
_EPOCH_RE = re.compile(r"[0-9]{1,12}")


def _equals(want: str, have: str) -> bool:
    return want == have


def _equals_ignore_case(want: str, have: str) -> bool:
    return want.lower() == have.lower()


def _like(want: str, have: str) -> bool:
    return wildcard_match(want, have)


def _bool(want: str, have: str) -> bool:
    return want.lower() == have.lower()


def _number(text: str) -> float | None:
    # Plain decimal numbers only: float() would also take "1_000", " 5", "inf" and "nan".
    if not _NUMBER_RE.fullmatch(text):
        return None
    return float(text)


def _numeric(compare: Callable[[float, float], bool]) -> Matcher:
    def match(want: str, have: str) -> bool:
        w, h = _number(want), _number(have)
        return w is not None and h is not None and compare(h, w)

    return match


def _instant(text: str) -> datetime | None:
    """An ISO 8601 date/time or epoch seconds (AWS "Date condition operators")."""
    try:
        if _EPOCH_RE.fullmatch(text):
            return datetime.fromtimestamp(int(text), tz=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _date(compare: Callable[[datetime, datetime], bool]) -> Matcher:
    def match(want: str, have: str) -> bool:
        w, h = _instant(want), _instant(have)
        return w is not None and h is not None and compare(h, w)

    return match


def _ip_in(want: str, have: str) -> bool:
    try:
        return ipaddress.ip_address(have) in ipaddress.ip_network(want, strict=False)
    except ValueError:
        return False


# base operator -> (matcher, negated)
_BASE: dict[str, tuple[Matcher, bool]] = {
    "StringEquals": (_equals, False),
    "StringNotEquals": (_equals, True),
    "StringEqualsIgnoreCase": (_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_equals_ignore_case, True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    # AWS: ArnEquals and ArnLike behave alike, component by component with wildcards.
    "ArnEquals": (arn_match, False),
    "ArnLike": (arn_match, False),
    "ArnNotEquals": (arn_match, True),
    "ArnNotLike": (arn_match, True),
    "Bool": (_bool, False),
    "NumericEquals": (_numeric(lambda h, w: h == w), False),
    "NumericNotEquals": (_numeric(lambda h, w: h == w), True),
    "NumericLessThan": (_numeric(lambda h, w: h < w), False),
    "NumericLessThanEquals": (_numeric(lambda h, w: h <= w), False),
    "NumericGreaterThan": (_numeric(lambda h, w: h > w), False),
    "NumericGreaterThanEquals": (_numeric(lambda h, w: h >= w), False),
    "DateEquals": (_date(lambda h, w: h == w), False),
    "DateNotEquals": (_date(lambda h, w: h == w), True),
    "DateLessThan": (_date(lambda h, w: h < w), False),
    "DateLessThanEquals": (_date(lambda h, w: h <= w), False),
    "DateGreaterThan": (_date(lambda h, w: h > w), False),
    "DateGreaterThanEquals": (_date(lambda h, w: h >= w), False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
    "BinaryEquals": (_equals, False),
}
_SET_OPERATORS = ("ForAllValues", "ForAnyValue")
_PATTERN_BASES = frozenset(
    {"StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"}
)


@dataclass(frozen=True)
class OperatorSpec:
    """A parsed condition operator name such as ``ForAnyValue:StringLikeIfExists``."""

    base: str
    set_operator: str | None = None
    if_exists: bool = False


def supported_operators() -> tuple[str, ...]:
    """Return the base operator names this evaluator implements (plus ``Null``)."""
    return (*sorted(_BASE), "Null")


def is_pattern_operator(operator: OperatorSpec) -> bool:
    """True if the operator's policy values are wildcard patterns (``*``/``?`` special)."""
    return operator.base in _PATTERN_BASES


def parse_operator(name: str) -> OperatorSpec | None:
    """Return the parsed operator, or None if ``name`` is not an operator AWS defines.

    Operator names are matched exactly as AWS spells them. ``Null`` takes neither a set
    operator nor ``IfExists`` (AWS: "Null" is itself the existence check).
    """
    set_operator: str | None = None
    prefix, sep, rest = name.partition(":")
    if sep:
        if prefix not in _SET_OPERATORS:
            return None
        set_operator, name = prefix, rest
    if name == "Null":
        return None if set_operator else OperatorSpec("Null")
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists") if if_exists else name
    if base not in _BASE:
        return None
    return OperatorSpec(base, set_operator, if_exists)


def condition_holds(
    operator: OperatorSpec,
    key: str,
    policy_values: tuple[str, ...],
    context: Mapping[str, tuple[str, ...]],
) -> bool:
    """Return True if one ``operator: {key: policy_values}`` entry holds for ``context``.

    ``context`` maps *lower-cased* key names to non-empty value tuples (condition key names
    are case-insensitive; an empty value list counts as a missing key). An operator this module
    does not know never holds (the statement then does not apply). Never raises.
    """
    have = context.get(key.lower())
    if operator.base == "Null":
        # "true": the key must be absent; "false": it must be present. Values are ORed.
        return any((want.lower() == "true") == (have is None) for want in policy_values)
    entry = _BASE.get(operator.base)
    if entry is None:
        return False
    matcher, negated = entry
    if have is None:
        return _missing_key(operator, negated)

    def value_matches(value: str) -> bool:
        return any(matcher(want, value) for want in policy_values)

    if operator.set_operator == "ForAllValues":
        return all(value_matches(v) != negated for v in have)
    if operator.set_operator == "ForAnyValue":
        return any(value_matches(v) != negated for v in have)
    hit = any(value_matches(v) for v in have)
    return hit != negated


def _missing_key(operator: OperatorSpec, negated: bool) -> bool:
    """The result for a key absent from the request context (see the module docstring)."""
    if operator.if_exists or operator.set_operator == "ForAllValues":
        return True
    if operator.set_operator == "ForAnyValue":
        return False
    return negated
