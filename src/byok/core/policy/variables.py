"""IAM policy variables (``${aws:PrincipalAccount}``) in Resource and Condition values.

IAM User Guide, "IAM policy elements: Variables and tags": in a ``2012-10-17`` policy, a
``${key}`` in ``Resource``/``NotResource`` or in a condition value is replaced by the request's
value of that condition key (key names case-insensitive); ``${key, 'default'}`` falls back to
the quoted default (``''`` inside it is one quote); ``${*}``, ``${?}`` and ``${$}`` stand for the
literal characters. "If AWS cannot resolve a variable this might cause the entire statement to
be invalid": here a variable for a missing or multi-valued key without a default, or malformed
variable syntax, makes the statement not apply (:func:`substitute` returns None).

Substituted text is always literal: a ``*`` or ``?`` that comes from a request value, a default
or ``${*}`` never acts as a wildcard, so a caller cannot widen a policy by choosing a value.
Inside patterns such literal characters are carried as :data:`LITERAL_STAR` /
:data:`LITERAL_QUESTION` (private-use characters the parser refuses in policy text), which
:mod:`byok.core.policy.wildcard` matches only against a real ``*`` / ``?``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["LITERAL_QUESTION", "LITERAL_STAR", "has_variables", "literal", "substitute"]

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


class _Unresolved(Exception):
    pass


def substitute(text: str, values: Mapping[str, tuple[str, ...]]) -> str | None:
    """Replace every ``${...}`` in ``text`` using ``values`` (lower-cased key -> values).

    Returns:
        The text in pattern form (literal ``*``/``?`` from substitutions escaped), or None if a
        variable cannot be resolved. Never raises.
    """
    if not has_variables(text):
        return text

    def replace(found: re.Match[str]) -> str:
        return _resolve(found.group(1), values)

    try:
        result = _VARIABLE_RE.sub(replace, text)
    except _Unresolved:
        return None
    # Only one round of substitution (IAM does not re-expand); a '${' left over is malformed.
    return None if "${" in _VARIABLE_RE.sub("", text) else result


def _resolve(inner: str, values: Mapping[str, tuple[str, ...]]) -> str:
    if inner in ("*", "?"):
        return _escape(inner)
    if inner == "$":
        return "$"
    name, comma, rest = inner.partition(",")
    name = name.strip()
    if not _NAME_RE.fullmatch(name):
        raise _Unresolved
    have = values.get(name.lower())
    if have is not None and len(have) == 1:
        return _escape(have[0])
    if not comma:
        raise _Unresolved
    default = _DEFAULT_RE.fullmatch(rest.strip())
    if default is None:
        raise _Unresolved
    return _escape(default.group(1).replace("''", "'"))
