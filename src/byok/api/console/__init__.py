"""byok's web console: server-rendered pages for the customer's admin and the vendor's
operator, a thin layer over :mod:`byok.service` mounted by the API under ``/console``."""

from __future__ import annotations

from byok.api.console.app import create_console

__all__ = ["create_console"]
