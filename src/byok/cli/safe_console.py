"""The Rich console every ``byok`` command prints through (see :mod:`byok.cli.output`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from byok.cli.sanitize import clean

if TYPE_CHECKING:
    from rich.style import Style

__all__ = ["SafeConsole"]


class SafeConsole(Console):
    """A Rich console for which every ``str`` is data (see the module docstring).

    Markup, emoji codes and highlighting are off, and :meth:`render_str` (which Rich calls for
    every printed string, table cell and title) passes the string through :func:`clean`.
    """

    def __init__(self, **options: Any) -> None:
        """Rich's options (``stderr``, ``file``, ``width``, ``force_terminal``, ...); markup,
        emoji and highlighting are always off."""
        options |= {"markup": False, "emoji": False, "highlight": False}
        super().__init__(**options)

    def render_str(
        self,
        text: str,
        *,
        style: str | Style = "",
        justify: Any = None,
        overflow: Any = None,
        emoji: bool | None = None,
        markup: bool | None = None,
        highlight: bool | None = None,
        highlighter: Any = None,
    ) -> Text:
        """Render ``text`` literally, cleaned; the markup/emoji/highlight arguments are ignored."""
        return Text(clean(text), style=style, justify=justify, overflow=overflow)
