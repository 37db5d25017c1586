"""IAM policy documents: a strict parser into frozen, typed statements.

:func:`parse_policy` accepts exactly the IAM policy grammar (IAM User Guide, "IAM JSON policy
element reference" and "Grammar of the IAM JSON policy language") and refuses anything else
with :class:`~byok.errors.InvalidInput`: malformed JSON, duplicate JSON keys (two parsers could
disagree about which one wins), unknown elements, unknown condition operators, wildcards inside
principal ARNs, documents over the 32 KiB KMS key-policy limit. Policies are security
boundaries, so an ambiguous document is an error, never a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from byok.core.policy.conditions import OperatorSpec, parse_instant, parse_operator
from byok.core.policy.variables import LITERAL_QUESTION, LITERAL_STAR, has_variables
from byok.errors import InvalidInput

__all__ = [
    "MAX_POLICY_BYTES",
    "NULL_ENTRY",
    "ROOT_ARN_RE",
    "Condition",
    "PolicyDocument",
    "PrincipalSet",
    "Statement",
    "parse_policy",
]

# A ``null`` entry of Resource/NotResource (IAM accepts it): a private-use character the parser
# refuses in policy text, so no policy can spell it; the evaluator reads it as UNKNOWN.
NULL_ENTRY = "\ue002"
# AWS KMS: a key policy document may be at most 32 KiB (32,768 bytes).
MAX_POLICY_BYTES = 32 * 1024
_VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_PRINCIPAL_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")
_ACCOUNT_RE = re.compile(r"[0-9]{12}")
ROOT_ARN_RE = re.compile(r"arn:aws(?:-cn|-us-gov)?:iam::([0-9]{12}):root")
_IAM_PRINCIPAL_RE = re.compile(
    r"arn:aws(?:-cn|-us-gov)?:(?:iam::[0-9]{12}:(?:user|role|federated-user)/"
    r"|sts::[0-9]{12}:(?:assumed-role|federated-user)/)[^*?\s]+"
)
_ACTION_RE = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9*?_-]+")
_MAX_STRING = 2048
_FIX = (
    'Give an IAM policy document: a JSON object with "Version": "2012-10-17" and a '
    '"Statement" list whose statements have Effect, Action (or NotAction) and, as the '
    "policy type requires, Principal and Resource."
)


@dataclass(frozen=True)
class PrincipalSet:
    """The value of a ``Principal`` or ``NotPrincipal`` element.

    Attributes:
        wildcard: ``"*"`` or ``{"AWS": "*"}``: every AWS principal.
        accounts: account ids named as ``"<12 digits>"`` or ``arn:aws:iam::<id>:root``.
        arns: IAM user / role / session ARNs, exactly as written.
        others: ``(kind, value)`` for ``Service``, ``Federated`` and ``CanonicalUser``; these never
            name an AWS IAM principal, so they never match one.
    """

    wildcard: bool = False
    accounts: frozenset[str] = frozenset()
    arns: frozenset[str] = frozenset()
    others: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Condition:
    """One ``operator: {key: values}`` entry of a ``Condition`` element."""

    operator: str
    spec: OperatorSpec
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    """One policy statement. Exactly one of each Action/NotAction pair is set, at most one of
    Resource/NotResource and of Principal/NotPrincipal."""

    index: int
    sid: str | None
    effect: Literal["Allow", "Deny"]
    action: tuple[str, ...] | None = None
    not_action: tuple[str, ...] | None = None
    resource: tuple[str, ...] | None = None
    not_resource: tuple[str, ...] | None = None
    principal: PrincipalSet | None = None
    not_principal: PrincipalSet | None = None
    conditions: tuple[Condition, ...] = ()
    uses_variables: bool = False  # a 2012-10-17 statement with ${...} in Resource/Condition

    @property
    def label(self) -> str:
        """``Sid`` if present, else ``#<index>`` (for explanations and audit findings)."""
        return self.sid if self.sid else f"#{self.index}"


@dataclass(frozen=True)
class PolicyDocument:
    """A parsed, validated IAM policy document (identity, key, or trust policy)."""

    version: str
    statements: tuple[Statement, ...]
    id: str | None = None


def parse_policy(
    text_or_mapping: str | Mapping[str, Any],
    *,
    field: str = "policy",
    max_bytes: int = MAX_POLICY_BYTES,
) -> PolicyDocument:
    """Parse and validate an IAM policy document given as JSON text or an already-decoded mapping.

    Returns:
        The :class:`PolicyDocument`.

    Raises:
        InvalidInput: naming ``field``, if the input is not JSON, not an object, larger than
            ``max_bytes`` (UTF-8 of the text, or of the compact JSON of a mapping), has an unknown
            or duplicate key, no ``Statement``, a ``Version`` other than 2012-10-17/2008-10-17,
            or any statement that breaks the IAM grammar (see :func:`_statement`).
    """
    raw = _decode(text_or_mapping, field, max_bytes)
    if not isinstance(raw, dict):
        raise _bad(field, "the policy is not a JSON object")
    _only_keys(raw, _TOP_KEYS, field, "policy")
    version = raw.get("Version", "2008-10-17")  # IAM: an absent Version means 2008-10-17
    if version not in _VERSIONS:
        raise _bad(field, f"Version must be 2012-10-17 or 2008-10-17, not {_short(version)}")
    policy_id = raw.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise _bad(field, "Id must be a string")
    if "Statement" not in raw:
        raise _bad(field, "the policy has no Statement")
    body = raw["Statement"]
    items = body if isinstance(body, list) else [body]
    if not items:
        raise _bad(field, "Statement is an empty list")
    statements = tuple(_statement(item, i, field, version) for i, item in enumerate(items))
    return PolicyDocument(version=version, statements=statements, id=policy_id)


def _decode(value: object, field: str, max_bytes: int) -> object:
    """JSON text or a mapping -> plain JSON values, size-capped, duplicate keys refused."""
    try:
        if isinstance(value, str):
            text = value
        elif isinstance(value, Mapping):
            text = json.dumps(dict(value), separators=(",", ":"), allow_nan=False)
        else:
            raise _bad(field, f"expected JSON text or a mapping, got {type(value).__name__}")
        # Characters never outnumber UTF-8 bytes: refuse huge text before encoding it.
        if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
            raise _bad(field, f"the policy is larger than {max_bytes} bytes")
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (TypeError, ValueError, RecursionError) as exc:
        if isinstance(exc, _DuplicateKey):
            raise _bad(field, str(exc)) from None
        raise _bad(field, f"not valid JSON ({type(exc).__name__})") from None


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"duplicate JSON key {_short(key)}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _statement(item: object, index: int, field: str, version: str) -> Statement:
    """Validate one statement.

    Raises:
        InvalidInput: not an object; unknown key; Effect not exactly Allow/Deny; neither or both
            of Action/NotAction; both Resource and NotResource, or Principal and NotPrincipal;
            a malformed action, resource, principal or condition.
    """
    where = f"Statement[{index}]"
    if not isinstance(item, dict):
        raise _bad(field, f"{where} is not a JSON object")
    _only_keys(item, _STATEMENT_KEYS, field, where)
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise _bad(field, f"{where}.Sid must be a string")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise _bad(field, f'{where}.Effect must be "Allow" or "Deny", not {_short(effect)}')
    _one_of(item, "Action", "NotAction", field, where, required=True)
    _one_of(item, "Resource", "NotResource", field, where, required=False)
    _one_of(item, "Principal", "NotPrincipal", field, where, required=False)
    statement = Statement(
        index=index,
        sid=sid,
        effect=effect,
        action=_actions(item, "Action", field, where),
        not_action=_actions(item, "NotAction", field, where),
        resource=_resources(item, "Resource", field, where),
        not_resource=_resources(item, "NotResource", field, where),
        principal=_principal(item, "Principal", field, where),
        not_principal=_principal(item, "NotPrincipal", field, where),
        conditions=_conditions(item.get("Condition"), field, where),
    )
    # IAM: policy variables are substituted only in Version 2012-10-17 documents.
    variable_texts = [
        *(statement.resource or ()),
        *(statement.not_resource or ()),
        *(v for c in statement.conditions for v in c.values),
    ]
    if version == "2012-10-17" and any(has_variables(t) for t in variable_texts):
        return replace(statement, uses_variables=True)
    return statement


def _one_of(
    item: dict[str, Any], a: str, b: str, field: str, where: str, *, required: bool
) -> None:
    if a in item and b in item:
        raise _bad(field, f"{where} has both {a} and {b}")
    if required and a not in item and b not in item:
        raise _bad(field, f"{where} has neither {a} nor {b}")


def _strings(value: object, field: str, where: str, *, nulls: bool = False) -> tuple[str, ...]:
    """A string or a non-empty list of non-empty strings -> tuple. ``nulls``: a JSON null (or a
    null entry) is accepted and kept as :data:`NULL_ENTRY`."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise _bad(field, f"{where} is an empty list")
    result: list[str] = []
    for entry in items:
        if entry is None and nulls:
            result.append(NULL_ENTRY)
            continue
        if not isinstance(entry, str) or not entry or len(entry) > _MAX_STRING:
            raise _bad(field, f"{where} must be a non-empty string or list of them")
        _no_reserved(entry, field, where)
        result.append(entry)
    return tuple(result)


def _actions(item: dict[str, Any], name: str, field: str, where: str) -> tuple[str, ...] | None:
    if name not in item:
        return None
    actions = _strings(item[name], field, f"{where}.{name}")
    for action in actions:
        # IAM accepts whitespace inside an action name (the evaluator reads such an entry the
        # less permissive way: byok.core.policy.matching._action_truth).
        if action != "*" and not _ACTION_RE.fullmatch("".join(action.split())):
            raise _bad(field, f"{where}.{name}: {_short(action)} is not service:Action or *")
    return actions


def _resources(item: dict[str, Any], name: str, field: str, where: str) -> tuple[str, ...] | None:
    if name not in item:
        return None
    resources = _strings(item[name], field, f"{where}.{name}", nulls=True)
    for resource in resources:
        if resource in ("*", NULL_ENTRY):
            continue
        # IAM refuses a Resource that is not "*" or a six-part ARN (arn:partition:service:
        # region:account:resource; "IAM identifiers", ARN format).
        if not resource.startswith("arn:") or resource.count(":") < 5:
            raise _bad(field, f"{where}.{name}: {_short(resource)} is not an ARN or *")
    return resources


def _principal(item: dict[str, Any], name: str, field: str, where: str) -> PrincipalSet | None:
    """Validate a Principal/NotPrincipal: ``"*"`` or an object of AWS/Service/Federated/
    CanonicalUser to a string or list. AWS refuses partial wildcards in principals."""
    if name not in item:
        return None
    value, where = item[name], f"{where}.{name}"
    if value == "*":
        return PrincipalSet(wildcard=True)
    if not isinstance(value, dict) or not value:
        raise _bad(field, f'{where} must be "*" or an object such as {{"AWS": [...]}}')
    _only_keys(value, frozenset(_PRINCIPAL_KINDS), field, where)
    wildcard, accounts, arns, others = False, set(), set(), []
    for kind in _PRINCIPAL_KINDS:
        for entry in _strings(value[kind], field, f"{where}.{kind}") if kind in value else ():
            if kind != "AWS":
                others.append((kind, entry))
            elif entry == "*":
                wildcard = True
            elif _ACCOUNT_RE.fullmatch(entry) or ROOT_ARN_RE.fullmatch(entry):
                accounts.add(entry[-17:-5] if entry.endswith(":root") else entry)
            elif _IAM_PRINCIPAL_RE.fullmatch(entry):
                arns.add(entry)
            else:
                raise _bad(field, f"{where}.AWS: {_short(entry)} is not an AWS principal")
    return PrincipalSet(wildcard, frozenset(accounts), frozenset(arns), tuple(others))


def _conditions(value: object, field: str, where: str) -> tuple[Condition, ...]:
    """Validate ``{"Operator": {"key": value-or-list}}``; values may be strings, numbers or
    booleans (AWS accepts ``"Bool": {"aws:SecureTransport": false}``) and are kept as text."""
    if value is None:
        return ()
    where = f"{where}.Condition"
    if not isinstance(value, dict):
        raise _bad(field, f"{where} must be an object")
    result: list[Condition] = []
    for operator, block in value.items():
        spec = parse_operator(operator)
        if spec is None:
            raise _bad(field, f"{where}: unknown condition operator {_short(operator)}")
        # IAM accepts an empty operator block ({}) and an empty value list; an empty block
        # adds no condition, an empty list is evaluated as UNKNOWN (conditions.condition_truth).
        if not isinstance(block, dict):
            raise _bad(field, f"{where}.{operator} must be an object of key: values")
        for key, raw in block.items():
            values = _condition_values(raw, field, f"{where}.{operator}.{key}")
            _check_values(spec, values, field, f"{where}.{operator}.{key}")
            result.append(Condition(operator, spec, key, values))
    return tuple(result)


def _condition_values(raw: object, field: str, where: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    values: list[str] = []
    for entry in items:
        if isinstance(entry, bool):
            values.append("true" if entry else "false")
        elif isinstance(entry, int | float):
            values.append(json.dumps(entry))
        elif isinstance(entry, str) and len(entry) <= _MAX_STRING:
            _no_reserved(entry, field, where)
            values.append(entry)
        else:
            raise _bad(field, f"{where} values must be strings, numbers or booleans")
    return tuple(values)


def _check_values(spec: OperatorSpec, values: tuple[str, ...], field: str, where: str) -> None:
    """Values IAM refuses: Bool/Null other than true/false (a policy variable is accepted in a
    Bool value: "Condition operators", Boolean: policy variables supported), Date values that
    are not ISO 8601 dates or epoch seconds ("Date condition operators")."""
    for value in values:
        if spec.base == "Bool" and has_variables(value):
            continue
        if spec.base in ("Bool", "Null") and value.lower() not in ("true", "false"):
            raise _bad(field, f"{where}: {spec.base} takes only true or false")
        if spec.base.startswith("Date") and parse_instant(value) is None:
            raise _bad(field, f"{where}: {_short(value)} is not a date (ISO 8601 or epoch)")


def _no_reserved(text: str, field: str, where: str) -> None:
    # The evaluator uses these two private-use characters internally for literal * and ?.
    if LITERAL_STAR in text or LITERAL_QUESTION in text or NULL_ENTRY in text:
        raise _bad(field, f"{where} contains a reserved character (U+E000-U+E002)")


def _only_keys(obj: dict[str, Any], allowed: frozenset[str], field: str, where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _bad(field, f"{where} has unknown element {_short(unknown[0])}")


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(field, message, fix=_FIX)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
