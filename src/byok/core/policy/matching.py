"""The request model and whether one statement applies to one request.

A statement applies when its action, resource, principal and every condition match (IAM User
Guide, "Policy evaluation logic": "determining whether a request is allowed or denied within an
account"). Case rules, from "IAM JSON policy elements": action names are case-insensitive
(``kms:decrypt`` is ``kms:Decrypt``); resource ARNs are case-sensitive; condition key names are
case-insensitive and values case-sensitive (see :mod:`byok.core.policy.conditions`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from byok.core.policy.conditions import (
    Truth,
    all_of,
    any_of,
    condition_truth,
    is_pattern_operator,
)
from byok.core.policy.document import NULL_ENTRY, ROOT_ARN_RE, PrincipalSet, Statement
from byok.core.policy.variables import Unbound, literal, resolve
from byok.core.policy.wildcard import wildcard_match
from byok.errors import InvalidInput

__all__ = ["PrincipalMatch", "Request", "check_policy_type", "match_statement"]

_ACCOUNT_RE = re.compile(r"[0-9]{12}")
_ACTION_RE = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9_-]+")
_IAM_ARN_RE = re.compile(r"arn:aws(?:-cn|-us-gov)?:iam::")
_POLICY_FIX = (
    "Identity policies carry Resource and no Principal; key and trust policies carry a "
    "Principal (or NotPrincipal) in every statement."
)

ContextValue = str | Sequence[str]


@dataclass(frozen=True)
class Request:
    """One request to authorize.

    Attributes:
        principal_arns: every ARN naming the caller, e.g. an assumed-role session ARN and its
            role ARN, an IAM user ARN, or ``arn:aws:iam::<id>:root``.
        principal_account: the caller's 12-digit account id.
        action: ``service:Action``, e.g. ``kms:Decrypt``.
        resource: the ARN acted on (key ARN, role ARN).
        context: condition keys to values (a string or a list of strings). Key names are
            case-insensitive. ``aws:PrincipalAccount`` and ``aws:PrincipalArn`` are filled in
            from the principal when absent, as AWS always sets them.

    Raises:
        InvalidInput: field ``request`` if any attribute has the wrong type or shape, or two
            context keys differ only in case.
    """

    principal_arns: tuple[str, ...]
    principal_account: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    _values: Mapping[str, tuple[str, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        arns = self.principal_arns
        if isinstance(arns, str) or not isinstance(arns, Sequence) or not arns:
            raise _bad_request("principal_arns must be a non-empty tuple of ARNs")
        object.__setattr__(self, "principal_arns", tuple(arns))
        if not isinstance(self.principal_account, str) or not _ACCOUNT_RE.fullmatch(
            self.principal_account
        ):
            raise _bad_request("principal_account must be a 12-digit account id")
        for arn in self.principal_arns:
            parts = arn.split(":", 5) if isinstance(arn, str) else []
            # Every ARN naming the caller must be an IAM/STS ARN of the caller's own account,
            # so no ARN can borrow another account's grants.
            if len(parts) != 6 or parts[0] != "arn" or parts[2] not in ("iam", "sts"):
                raise _bad_request(f"principal_arns entry {arn!r} is not an IAM or STS ARN")
            if parts[4] != self.principal_account:
                raise _bad_request(f"principal_arns entry {arn!r} is not of principal_account")
        if not isinstance(self.action, str) or not _ACTION_RE.fullmatch(self.action):
            raise _bad_request("action must be service:Action without wildcards")
        if not isinstance(self.resource, str):
            raise _bad_request("resource must be a string")
        object.__setattr__(self, "_values", self._normalize_context())

    @property
    def is_root_user(self) -> bool:
        """True if the caller is its account's root user."""
        return any(_root_account(a) == self.principal_account for a in self.principal_arns)

    @property
    def condition_context(self) -> Mapping[str, tuple[str, ...]]:
        """The context as evaluated: lower-cased keys to non-empty value tuples."""
        return self._values

    def values(self, key: str) -> tuple[str, ...] | None:
        """The request's values for condition key ``key`` (any case), or None if absent."""
        return self._values.get(key.lower())

    def with_default_context(self, defaults: Mapping[str, str]) -> Request:
        """Return a copy whose context also has each of ``defaults`` not already present."""
        extra = {k: v for k, v in defaults.items() if k.lower() not in self._values}
        return self if not extra else replace(self, context={**self.context, **extra})

    def _normalize_context(self) -> dict[str, tuple[str, ...]]:
        if not isinstance(self.context, Mapping):
            raise _bad_request("context must be a mapping of condition keys to values")
        values: dict[str, tuple[str, ...]] = {}
        snapshot: dict[str, ContextValue] = {}
        for key, raw in self.context.items():
            if not isinstance(key, str) or not key:
                raise _bad_request("context keys must be non-empty strings")
            if key.lower() in values:
                raise _bad_request(f"context key {key!r} is given twice (keys ignore case)")
            items = (raw,) if isinstance(raw, str) else raw
            if not isinstance(items, Sequence) or not all(isinstance(v, str) for v in items):
                raise _bad_request(f"context value of {key!r} must be a string or strings")
            if items:  # an empty list counts as a missing key
                values[key.lower()] = tuple(items)
            snapshot[key] = raw if isinstance(raw, str) else tuple(items)
        # A read-only copy: the decision must not change if the caller's dict changes later.
        object.__setattr__(self, "context", MappingProxyType(snapshot))
        values.setdefault("aws:principalaccount", (self.principal_account,))
        values.setdefault("aws:principalarn", (self._principal_arn(),))
        return values

    def _principal_arn(self) -> str:
        # aws:PrincipalArn of an assumed-role session is the role ARN, not the session ARN.
        iam = [a for a in self.principal_arns if _IAM_ARN_RE.match(a)]
        return iam[0] if iam else self.principal_arns[0]


class PrincipalMatch(enum.Enum):
    """How a statement's principal element matched the caller."""

    CALLER = "caller"  # one of the caller's ARNs (or the root user by its account)
    WILDCARD = "wildcard"  # "*" / {"AWS": "*"}
    ACCOUNT = "account"  # the caller's account: a delegation to that account's IAM policies
    NOT_PRINCIPAL = "not_principal"  # the caller is outside a NotPrincipal list
    IDENTITY = "identity"  # an identity policy (no principal element)


def match_statement(
    statement: Statement, request: Request, *, resource_policy: bool
) -> PrincipalMatch | None:
    """Return how ``statement`` applies to ``request``, or None if it does not apply.

    Every part (action, resource, principal, each condition) evaluates to a
    :class:`~byok.core.policy.conditions.Truth`. A part the guide leaves open or that compares a
    malformed value is UNKNOWN, and the less permissive reading decides: an ``Allow`` applies
    only if every part is TRUE, a ``Deny`` applies unless some part is FALSE.

    Raises:
        InvalidInput: field ``policy`` if the statement does not fit the policy type.
    """
    check_policy_type(statement, resource_policy=resource_policy, field="policy")
    how = _principal_matches(statement, request) if resource_policy else PrincipalMatch.IDENTITY
    if how is None:
        return None
    threshold = Truth.TRUE if statement.effect == "Allow" else Truth.UNKNOWN
    parts: tuple[Callable[[Statement, Request], Truth], ...] = (
        _action_truth,
        _resource_truth,
        _conditions_truth,
    )
    for part in parts:  # in order, stopping at the first part that rules the statement out
        if part(statement, request).value < threshold.value:
            return None
    return how


def check_policy_type(statement: Statement, *, resource_policy: bool, field: str) -> None:
    """Check that ``statement`` fits a resource policy (it has a Principal or NotPrincipal) or
    an identity policy (no principal, and a Resource or NotResource).

    Raises:
        InvalidInput: naming ``field`` if it does not.
    """
    has_principal = statement.principal is not None or statement.not_principal is not None
    has_resource = statement.resource is not None or statement.not_resource is not None
    where = f"Statement[{statement.index}]"
    if resource_policy and not has_principal:
        raise InvalidInput(field, f"{where} of a resource policy has no Principal", fix=_POLICY_FIX)
    if not resource_policy and has_principal:
        raise InvalidInput(field, f"{where} of an identity policy has a Principal", fix=_POLICY_FIX)
    if not resource_policy and not has_resource:
        raise InvalidInput(field, f"{where} of an identity policy has no Resource", fix=_POLICY_FIX)


def _conditions_truth(statement: Statement, request: Request) -> Truth:
    values = request.condition_context
    results: list[Truth] = []
    for cond in statement.conditions:
        pattern = is_pattern_operator(cond.spec)
        bound: tuple[str | Unbound, ...] = cond.values
        if statement.uses_variables:
            bound = tuple(_bind(v, values, pattern=pattern) for v in cond.values)
        if any(v is _MALFORMED for v in bound):
            results.append(Truth.UNKNOWN)
            continue
        policy_values = tuple(None if v is _NO_VALUE else str(v) for v in bound)
        results.append(condition_truth(cond.spec, cond.key, policy_values, values))
        if results[-1] is Truth.FALSE:
            break
    return all_of(results)


_NO_VALUE = Unbound.NO_VALUE
_MALFORMED = Unbound.MALFORMED


def _bind(text: str, values: Mapping[str, tuple[str, ...]], *, pattern: bool) -> str | Unbound:
    """Substitute policy variables (:mod:`byok.core.policy.variables`) in one value."""
    bound = resolve(text, values)
    if isinstance(bound, Unbound):
        return bound
    return bound if pattern else literal(bound)


def _action_truth(statement: Statement, request: Request) -> Truth:
    # Action names are case-insensitive ("IAM JSON policy elements: Action"). IAM accepts
    # whitespace inside an action name; what it then matches is undocumented, so such an entry
    # is UNKNOWN when it matches with the whitespace removed (an Allow never uses it, a Deny
    # does) and FALSE otherwise.
    def entry(pattern: str) -> Truth:
        if any(c.isspace() for c in pattern):
            squeezed = wildcard_match("".join(pattern.split()), request.action, ignore_case=True)
            return Truth.UNKNOWN if squeezed else Truth.FALSE
        return Truth.of(wildcard_match(pattern, request.action, ignore_case=True))

    if statement.action is not None:
        return any_of(entry(p) for p in statement.action)
    if statement.not_action is None:  # the parser guarantees one of the two
        return Truth.FALSE
    return any_of(entry(p) for p in statement.not_action).negate()


def _resource_truth(statement: Statement, request: Request) -> Truth:
    """Resource / NotResource against the request's resource (ARNs match case-sensitively).

    A resource policy without Resource (a trust policy) applies to the resource it is attached
    to. IAM User Guide, "Policy variables with no value": a Resource entry whose variable has
    no value matches no resource, the other entries still match. For NotResource the guide is
    silent: such an entry, a malformed variable and a ``null`` entry are UNKNOWN.
    """
    values = request.condition_context

    def entry(pattern: str, *, negated: bool) -> Truth:
        if pattern == NULL_ENTRY:
            return Truth.UNKNOWN
        bound = _bind(pattern, values, pattern=True) if statement.uses_variables else pattern
        if bound is _NO_VALUE and not negated:
            return Truth.FALSE
        if isinstance(bound, Unbound):
            return Truth.UNKNOWN
        return Truth.of(wildcard_match(bound, request.resource))

    if statement.resource is not None:
        return any_of(entry(p, negated=False) for p in statement.resource)
    if statement.not_resource is not None:
        return any_of(entry(p, negated=True) for p in statement.not_resource).negate()
    return Truth.TRUE


def _principal_matches(statement: Statement, request: Request) -> PrincipalMatch | None:
    if statement.principal is not None:
        return _named(statement.principal, request)
    if statement.not_principal is None:  # checked by check_policy_type
        return None
    if statement.effect == "Allow":
        excluded = _any_named(statement.not_principal, request)
    else:
        excluded = _all_named(statement.not_principal, request)
    return None if excluded else PrincipalMatch.NOT_PRINCIPAL


def _named(principals: PrincipalSet, request: Request) -> PrincipalMatch | None:
    """Principal: ``*``, one of the caller's ARNs, or the caller's account. Service, Federated
    and CanonicalUser principals never name an AWS IAM identity."""
    if principals.wildcard:
        return PrincipalMatch.WILDCARD
    if any(_arn_listed(a, principals) for a in request.principal_arns):
        return PrincipalMatch.CALLER
    if request.principal_account in principals.accounts:
        return PrincipalMatch.CALLER if request.is_root_user else PrincipalMatch.ACCOUNT
    return None


def _any_named(principals: PrincipalSet, request: Request) -> bool:
    """NotPrincipal in an Allow: "allows all principals except the one named" ("AWS JSON policy
    elements: NotPrincipal"). The caller is excluded if *any* identity behind the request (its
    session, role or user ARN, or its account) is named: the less permissive reading, so an
    Allow never reaches a principal its NotPrincipal names."""
    if principals.wildcard or request.principal_account in principals.accounts:
        return True
    return any(_arn_listed(a, principals) for a in request.principal_arns)


def _all_named(principals: PrincipalSet, request: Request) -> bool:
    """NotPrincipal in a Deny: AWS evaluates every identity behind the request (session, role
    or user, and the account); the deny applies unless *all* of them are listed ("AWS JSON
    policy elements: NotPrincipal": list the account, role and session ARNs to exempt a
    session; otherwise "the policy might deny access to the entire account")."""
    if principals.wildcard:
        return True
    account_listed = request.principal_account in principals.accounts
    return account_listed and all(_arn_listed(a, principals) for a in request.principal_arns)


def _arn_listed(arn: str, principals: PrincipalSet) -> bool:
    root = _root_account(arn)
    if root is not None:
        return root in principals.accounts
    if arn in principals.arns:
        return True
    # IAM user and role names are unique case-insensitively, and AWS resolves a principal ARN
    # to the entity's unique id, so arn:...:role/Vendor and arn:...:role/vendor are one role.
    if _IAM_ARN_RE.match(arn):
        folded = arn.lower()
        return any(_IAM_ARN_RE.match(p) and p.lower() == folded for p in principals.arns)
    return False


def _root_account(arn: str) -> str | None:
    found = ROOT_ARN_RE.fullmatch(arn)
    return found.group(1) if found else None


def _bad_request(message: str) -> InvalidInput:
    return InvalidInput("request", message, fix="Build the Request from the caller's identity.")
