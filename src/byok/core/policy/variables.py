"""IAM policy variables (``${aws:PrincipalAccount}``) in Resource and Condition values.

IAM User Guide, "IAM policy elements: Variables and tags": in a ``2012-10-17`` policy, a
``${key}`` in ``Resource``/``NotResource`` or in a condition value is replaced by the request's
value of that condition key (key names case-insensitive); ``${key, 'default'}`` falls back to
the quoted default (``''`` inside it is one quote); ``${*}``, ``${?}`` and ``${$}`` stand for the
literal characters. A variable for a missing or multi-valued key without a default has *no
value* (IAM User Guide, "Policy variables with no value"): a Resource entry holding it matches
no resource while the other entries still match, and a condition value holding it matches no
request value, so ``StringEquals`` does not match and ``StringNotEquals`` does
(:mod:`byok.core.policy.matching`). Malformed variable syntax is not defined by the guide; the
evaluator reads it the less permissive way (:class:`byok.core.policy.conditions.Truth`).

Substituted text is always literal: a ``*`` or ``?`` that comes from a request value, a default
or ``${*}`` never acts as a wildcard, so a caller cannot widen a policy by choosing a value.
Inside patterns such literal characters are carried as :data:`LITERAL_STAR` /
:data:`LITERAL_QUESTION` (private-use characters the parser refuses in policy text), which
:mod:`byok.core.policy.wildcard` matches only against a real ``*`` / ``?``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping

__all__ = [
    "LITERAL_QUESTION",
    "LITERAL_STAR",
    "Unbound",
    "has_variables",
    "literal",
    "resolve",
    "substitute",
]

LITERAL_STAR = "\ue000"
LITERAL_QUESTION = "\ue001"
_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")
_NAME_RE = re.compile(r"[A-Za-z0-9:/._-]+")
_DEFAULT_RE = re.compile(r"'((?:[^']|'')*)'")


def has_variables(text: str) -> bool:
    """True if ``text`` contains ``${...}``."""
    return "${" in text


def _escape(text: str) -> str:
    return text.replace("*", LITERAL_STAR).replace("?", LITERAL_QUESTION)


def literal(pattern_form: str) -> str:
    """Turn a substituted pattern back into plain text (for non-wildcard operators)."""
    return pattern_form.replace(LITERAL_STAR, "*").replace(LITERAL_QUESTION, "?")


class Unbound(enum.Enum):
    """Why a text with policy variables could not be substituted."""

    NO_VALUE = "no_value"  # a key absent from the request (or multi-valued) and no default
    MALFORMED = "malformed"  # ${...} syntax IAM does not define


class _Unresolved(Exception):
    def __init__(self, why: Unbound) -> None:
        super().__init__(why.value)
        self.why = why


def substitute(text: str, values: Mapping[str, tuple[str, ...]]) -> str | None:
    """Replace every ``${...}`` in ``text``; None if it cannot (see :func:`resolve`)."""
    result = resolve(text, values)
    return result if isinstance(result, str) else None


def resolve(text: str, values: Mapping[str, tuple[str, ...]]) -> str | Unbound:
    """Replace every ``${...}`` in ``text`` using ``values`` (lower-cased key -> values).

    Returns:
        The text in pattern form (literal ``*``/``?`` from substitutions escaped);
        :attr:`Unbound.MALFORMED` if the variable syntax is not IAM's (checked first, over the
        whole text); else :attr:`Unbound.NO_VALUE` if a variable names a key the request does
        not carry (or carries several values for) and has no default. Never raises.
    """
    if not has_variables(text):
        return text
    # Only one round of substitution (IAM does not re-expand); a '${' left over is malformed.
    if "${" in _VARIABLE_RE.sub("", text):
        return Unbound.MALFORMED
    try:
        for found in _VARIABLE_RE.finditer(text):
            _resolve(found.group(1), {})  # syntax of every variable, before any value
    except _Unresolved as exc:
        if exc.why is Unbound.MALFORMED:
            return Unbound.MALFORMED

    def replace(found: re.Match[str]) -> str:
        return _resolve(found.group(1), values)

    try:
        return _VARIABLE_RE.sub(replace, text)
    except _Unresolved as exc:
        return exc.why


def _resolve(inner: str, values: Mapping[str, tuple[str, ...]]) -> str:
    if inner in ("*", "?"):
        return _escape(inner)
    if inner == "$":
        return "$"
    name, comma, rest = inner.partition(",")
    name = name.strip()
    if not _NAME_RE.fullmatch(name):
        raise _Unresolved(Unbound.MALFORMED)
    default = _DEFAULT_RE.fullmatch(rest.strip()) if comma else None
    if comma and default is None:
        raise _Unresolved(Unbound.MALFORMED)
    have = values.get(name.lower())
    if have is not None and len(have) == 1:
        return _escape(have[0])
    if default is None:
        raise _Unresolved(Unbound.NO_VALUE)
    return _escape(default.group(1).replace("''", "'"))
