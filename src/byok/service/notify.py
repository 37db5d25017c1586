"""Signed webhooks: POST a small JSON notice the receiver can authenticate.

Each request carries ``X-Byok-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` computed with
the receiver's secret over ``"<t>." + body`` (the Stripe scheme): the receiver recomputes it,
compares in constant time and refuses a ``t`` outside its replay window. Bodies carry
identifiers and states only, never key material.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["SIGNATURE_HEADER", "Notifier", "post_signed", "sign", "verify"]

SIGNATURE_HEADER = "X-Byok-Signature"
TIMEOUT_S = 5.0
Notifier = Callable[[str, str, Mapping[str, Any]], bool]


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Byok-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, now: float, window_s: float = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``window_s`` of ``now``."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > window_s:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def post_signed(url: str, secret: str, notice: Mapping[str, Any]) -> bool:
    """POST ``notice`` as signed JSON; True when the receiver answered 2xx (never raises)."""
    body = json.dumps(dict(notice), sort_keys=True, default=str).encode()
    request = urllib.request.Request(  # noqa: S310 - a URL the tenant configured (https/loopback)
        url, data=body, method="POST",
        headers={"Content-Type": "application/json",
                 SIGNATURE_HEADER: sign(secret, body, int(time.time()))},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310
            return 200 <= int(answer.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False
