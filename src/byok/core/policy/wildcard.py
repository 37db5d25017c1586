"""IAM wildcard matching (``*`` and ``?``) without regular expressions.

IAM lets ``Action``, ``NotAction``, ``Resource``, ``NotResource`` and the ``...Like`` condition
operators use ``*`` (any run of characters, including none) and ``?`` (exactly one character);
every other character is literal (IAM JSON policy elements: Action / Resource; "Condition
operators", StringLike). Matching here never builds a regular expression from policy text, so
no character in a policy can be interpreted as regex syntax, and the greedy two-pointer
algorithm runs in O(len(pattern) * len(text)) at worst: no catastrophic backtracking on
hostile patterns such as ``*a*a*a*a*b``.
"""

from __future__ import annotations

from byok.core.policy.variables import LITERAL_QUESTION, LITERAL_STAR

__all__ = ["arn_compare", "arn_match", "wildcard_match"]
_SPECIAL = ("*", "?", LITERAL_STAR, LITERAL_QUESTION)


def wildcard_match(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    """Return True if ``text`` matches the IAM wildcard ``pattern`` as a whole.

    ``ignore_case`` lower-cases both sides first (IAM action names are case-insensitive).
    :data:`~byok.core.policy.variables.LITERAL_STAR` / ``LITERAL_QUESTION`` in ``pattern`` (from
    policy variables) match only a real ``*`` / ``?``. Never raises.
    """
    if ignore_case:
        pattern, text = pattern.lower(), text.lower()
    if not any(c in pattern for c in _SPECIAL):
        return pattern == text
    p = t = 0
    star = -1  # position of the last '*' seen in the pattern
    resume = 0  # position in text where that '*' currently stops consuming
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":
            star, resume = p, t
            p += 1
        elif p < len(pattern) and _char_matches(pattern[p], text[t]):
            p += 1
            t += 1
        elif star >= 0:
            # Let the last '*' swallow one more character and retry from there.
            resume += 1
            p, t = star + 1, resume
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def _char_matches(want: str, have: str) -> bool:
    if want == LITERAL_STAR:
        return have == "*"
    if want == LITERAL_QUESTION:
        return have == "?"
    return want in ("?", have)


def arn_match(pattern: str, arn: str) -> bool:
    """Return True if ``arn`` matches ``pattern`` component by component.

    AWS "Condition operators", ARN operators: each of the six colon-delimited components of
    the ARN is checked separately, case-sensitively, and each may use ``*`` and ``?``. A value
    that is not six components (or the pattern ``*`` alone, which matches any ARN) is handled
    as written. Never raises.
    """
    if pattern == "*":
        return True
    want = pattern.split(":", 5)
    have = arn.split(":", 5)
    if len(want) != 6 or len(have) != 6:
        return False
    return all(wildcard_match(w, h) for w, h in zip(want, have, strict=True))


def arn_compare(pattern: str, arn: str) -> bool | None:
    """Like :func:`arn_match`, but None (malformed) if either side is not six components.

    The ARN condition operators then treat the comparison as malformed rather than as a plain
    mismatch, so ``ArnNotLike`` on a value that is not an ARN never counts as a match
    (:class:`byok.core.policy.conditions.Truth`). Never raises.
    """
    if pattern == "*":
        return True
    if len(pattern.split(":", 5)) != 6 or len(arn.split(":", 5)) != 6:
        return None
    return arn_match(pattern, arn)
