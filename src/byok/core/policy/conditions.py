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

Where the guide is silent, results are three-valued (:class:`Truth`): a comparison on a
malformed value (``NumericNotEquals`` on "ten", ``NotIpAddress`` on "garbage", ``ArnNotLike`` on
a value that is not a six-part ARN, ``DateNotEquals`` on "yesterday") is UNKNOWN, never a match,
and the statement's effect decides the less permissive reading (docs/local-aws.md).
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from byok.core.policy.wildcard import arn_compare, wildcard_match

__all__ = [
    "OperatorSpec",
    "Truth",
    "all_of",
    "any_of",
    "condition_holds",
    "condition_truth",
    "is_pattern_operator",
    "parse_instant",
    "parse_operator",
    "supported_operators",
]

Matcher = Callable[[str, str], "bool | None"]  # (policy value, request value) -> matched
_NUMBER_RE = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")
_EPOCH_RE = re.compile(r"[0-9]{1,12}")


class Truth(enum.Enum):
    """Three-valued result of one part of a statement (Kleene logic).

    ``UNKNOWN`` is what a comparison on a malformed value (a number that is not a number, an IP
    address that is not one, an ARN of fewer than six parts), an empty policy value list, or a
    case the IAM User Guide leaves open evaluates to. :func:`byok.core.policy.matching.
    match_statement` then takes the less permissive reading: an ``Allow`` applies only when
    everything is ``TRUE``; a ``Deny`` applies unless something is ``FALSE``. So a malformed
    comparison never grants access, and never lifts a deny.
    """

    FALSE = 0
    UNKNOWN = 1
    TRUE = 2

    @staticmethod
    def of(value: bool | None) -> Truth:
        """``True``/``False``/``None`` (malformed) -> TRUE/FALSE/UNKNOWN."""
        if value is None:
            return Truth.UNKNOWN
        return Truth.TRUE if value else Truth.FALSE

    def negate(self) -> Truth:
        """Kleene NOT: UNKNOWN stays UNKNOWN."""
        return Truth(2 - self.value)


def all_of(results: Iterable[Truth]) -> Truth:
    """Kleene AND (TRUE for no results)."""
    return min(results, key=lambda t: t.value, default=Truth.TRUE)


def any_of(results: Iterable[Truth]) -> Truth:
    """Kleene OR (FALSE for no results)."""
    return max(results, key=lambda t: t.value, default=Truth.FALSE)


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
    def match(want: str, have: str) -> bool | None:
        w, h = _number(want), _number(have)
        return None if w is None or h is None else compare(h, w)

    return match


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 date/time or epoch seconds (AWS "Date condition operators"), else None."""
    try:
        if _EPOCH_RE.fullmatch(text):
            return datetime.fromtimestamp(int(text), tz=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _date(compare: Callable[[datetime, datetime], bool]) -> Matcher:
    def match(want: str, have: str) -> bool | None:
        w, h = parse_instant(want), parse_instant(have)
        return None if w is None or h is None else compare(h, w)

    return match


def _ip_in(want: str, have: str) -> bool | None:
    try:
        return ipaddress.ip_address(have) in ipaddress.ip_network(want, strict=False)
    except ValueError:
        return None


# base operator -> (matcher, negated)
_BASE: dict[str, tuple[Matcher, bool]] = {
    "StringEquals": (_equals, False),
    "StringNotEquals": (_equals, True),
    "StringEqualsIgnoreCase": (_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_equals_ignore_case, True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    # AWS: ArnEquals and ArnLike behave alike, component by component with wildcards.
    "ArnEquals": (arn_compare, False),
    "ArnLike": (arn_compare, False),
    "ArnNotEquals": (arn_compare, True),
    "ArnNotLike": (arn_compare, True),
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

    Operator names are matched exactly as AWS spells them. ``Null`` takes no ``IfExists`` (it is
    itself the existence check) but IAM accepts ``ForAnyValue:Null`` / ``ForAllValues:Null``
    (see :func:`condition_truth` for what they mean here).
    """
    set_operator: str | None = None
    prefix, sep, rest = name.partition(":")
    if sep:
        if prefix not in _SET_OPERATORS:
            return None
        set_operator, name = prefix, rest
    if name == "Null":
        return OperatorSpec("Null", set_operator)
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists") if if_exists else name
    if base not in _BASE:
        return None
    return OperatorSpec(base, set_operator, if_exists)


def condition_holds(
    operator: OperatorSpec,
    key: str,
    policy_values: Sequence[str | None],
    context: Mapping[str, tuple[str, ...]],
) -> bool:
    """True only if :func:`condition_truth` is TRUE (a definite match)."""
    return condition_truth(operator, key, policy_values, context) is Truth.TRUE


def condition_truth(
    operator: OperatorSpec,
    key: str,
    policy_values: Sequence[str | None],
    context: Mapping[str, tuple[str, ...]],
) -> Truth:
    """Evaluate one ``operator: {key: policy_values}`` entry against ``context``.

    ``context`` maps *lower-cased* key names to non-empty value tuples (condition key names
    are case-insensitive; an empty value list counts as a missing key). A ``None`` policy value
    is a policy variable with no value: IAM User Guide, "Policy variables" (policy variables with
    no value): it "matches" nothing, so a non-inverted operator does not match it and an
    inverted one (``StringNotEquals``...) does. An empty policy value list (IAM accepts
    ``"k": []``) is UNKNOWN: the guide does not say what it means. Never raises.
    """
    have = context.get(key.lower())
    if operator.base == "Null":
        return _null_truth(operator, policy_values, have)
    entry = _BASE.get(operator.base)
    if entry is None or not policy_values:
        return Truth.UNKNOWN
    matcher, negated = entry
    if have is None:
        return Truth.of(_missing_key(operator, negated))

    def value_matches(value: str) -> Truth:
        # A None policy value (a variable with no value) matches no request value.
        return any_of(Truth.of(w is not None and matcher(w, value)) for w in policy_values)

    if operator.set_operator == "ForAllValues":
        # "Set operators for multivalued context keys": ForAllValues is true when the key
        # resolves to a null data set, such as an empty string.
        if all(v == "" for v in have):
            return Truth.TRUE
        return all_of(_apply(value_matches(v), negated) for v in have)
    if operator.set_operator == "ForAnyValue":
        return any_of(_apply(value_matches(v), negated) for v in have)
    return _apply(any_of(value_matches(v) for v in have), negated)


def _apply(matched: Truth, negated: bool) -> Truth:
    return matched.negate() if negated else matched


def _null_truth(
    operator: OperatorSpec, policy_values: Sequence[str | None], have: tuple[str, ...] | None
) -> Truth:
    """``Null``: "true" -> the key must be absent, "false" -> present; values are ORed.

    With a set operator (IAM accepts ``ForAllValues:Null``) the guide is silent: the result is
    the plain ``Null`` answer when the key is present, and when it is absent and the set
    operator's own rule for a missing key (ForAllValues: true, ForAnyValue: false) disagrees
    with ``Null``'s, UNKNOWN (the less permissive reading for Allow and for Deny alike).
    """
    if not policy_values or any(v is None for v in policy_values):
        return Truth.UNKNOWN
    plain = any((str(w).lower() == "true") == (have is None) for w in policy_values)
    set_rule = operator.set_operator == "ForAllValues"
    if have is None and operator.set_operator is not None and plain != set_rule:
        return Truth.UNKNOWN
    return Truth.of(plain)


def _missing_key(operator: OperatorSpec, negated: bool) -> bool:
    """The result for a key absent from the request context (see the module docstring)."""
    if operator.if_exists or operator.set_operator == "ForAllValues":
        return True
    if operator.set_operator == "ForAnyValue":
        return False
    return negated
