"""The hand-over file: what ``byok customer setup --handover-out FILE`` writes and
``byok tenant configure --handover FILE``, ``byok customer audit|activity --handover FILE`` read.

One set of field names everywhere (the JSON, the options, the API body, ``TenantKeyConfig``):
``tenant``, ``mode``, ``key_arn``, ``region``, and for Option B ``client_role_arn`` and
``external_id``. Options on the command line have the same names (``--client-role-arn``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from byok.errors import InvalidInput

__all__ = ["HANDOVER_FIELDS", "merge_handover", "read_handover"]

HANDOVER_FIELDS: Final = ("tenant", "mode", "key_arn", "region", "client_role_arn", "external_id")
_DRY_RUN_PLACEHOLDER: Final = "<"  # a dry run's hand-over says "<ARN of the new key>"


def read_json(path: Path, field: str) -> object:
    """Parse the JSON file ``path``; InvalidInput naming ``field`` if it is not readable JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(
            field,
            f"{path} is not readable JSON ({type(exc).__name__})",
            fix="Give the JSON file as written by byok or the AWS console.",
        ) from exc


def read_handover(path: Path) -> dict[str, str]:
    """Read a hand-over file strictly: a JSON object of the known fields, strings only.

    Raises:
        InvalidInput: field ``handover`` (not JSON, not an object, a dry run's placeholder) or
            the unknown / non-string field by name.
    """
    data = read_json(path, "handover")
    if not isinstance(data, dict):
        raise InvalidInput("handover", "must be a JSON object", fix="Give the file setup wrote.")
    unknown = sorted(str(k) for k in data if k not in HANDOVER_FIELDS)
    if unknown:
        raise InvalidInput(
            unknown[0], "is not a hand-over field", fix=f"Use only {', '.join(HANDOVER_FIELDS)}."
        )
    found: dict[str, str] = {}
    for name in HANDOVER_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidInput(name, "must be a string", fix="Give the file setup wrote.")
        found[name] = value
    if found.get("key_arn", "").startswith(_DRY_RUN_PLACEHOLDER):
        raise InvalidInput(
            "key_arn",
            "is a dry run's placeholder, not a key",
            fix="Run `byok customer setup` without --dry-run and hand over the file it writes.",
        )
    return found


def merge_handover(
    from_file: Mapping[str, str], options: Mapping[str, str | None]
) -> dict[str, str]:
    """The file's fields plus the options given; an option may fill a gap, not contradict.

    Raises:
        InvalidInput: naming a field the option and the file disagree on.
    """
    merged = dict(from_file)
    for name, value in options.items():
        if value is None:
            continue
        if name in merged and merged[name] != value:
            raise InvalidInput(
                name,
                f"the option says {value!r:.80} but the hand-over file says {merged[name]!r:.80}",
                fix=f"Drop --{name.replace('_', '-')} or use the hand-over file for this tenant.",
            )
        merged[name] = value
    return merged
