"""Render the console's Jinja2 templates (autoescaped) into HTML responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from byok.api.console.security import Viewer

__all__ = ["page"]

_ENV = Environment(
    loader=PackageLoader("byok.api.console", "templates"),
    autoescape=select_autoescape(("html",), default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _size(value: int) -> str:
    """Bytes in words: ``1.5 MiB``."""
    amount = float(value)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{int(amount)} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"  # pragma: no cover - unreachable


def _when(value: datetime | None) -> str:
    """A UTC time to the second: ``2026-12-03 10:04:05 UTC``."""
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


_ENV.filters["size"] = _size
_ENV.filters["when"] = _when


def page(
    template: str, *, viewer: Viewer | None, title: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``template`` with the viewer (for the header and CSRF tokens).

    Returns:
        The HTML response (security headers are added by the console's middleware).
    """
    html = _ENV.get_template(template).render(viewer=viewer, title=title, **context)
    return HTMLResponse(html, status_code=status)
