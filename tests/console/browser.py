"""Headless Debian Chromium driven by Playwright for the console's browser tests.

Chromium comes from the machine (``scripts/ensure-chromium.sh``, which ``make test`` runs,
installs Debian's ``chromium``); Playwright only drives it (``executable_path``): no browser
is ever downloaded. Without Chromium the browser tests skip and say why.

:class:`Tab` wraps a page and records what every test must hold: no console error, no
uncaught page error, no request URL carrying a token, every form control labelled.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("BYOK_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
#: Where screenshots go: docs/console when BYOK_CONSOLE_SCREENSHOTS=docs (``make
#: screenshots``), else a temporary folder, so a test run leaves the work tree clean.
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"

# Controls without a label, an aria-label or aria-labelledby (buttons: their text counts).
_UNLABELLED_JS = """
() => Array.from(document.querySelectorAll('input, select, textarea, button'))
  .filter(el => el.type !== 'hidden' && !el.hidden)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby')
                && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map(el => el.outerHTML)
"""


def chromium_or_skip() -> str:
    """The Chromium executable, or skip the test with the reason."""
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} is not installed (scripts/ensure-chromium.sh installs it as root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    return CHROMIUM


@contextmanager
def chromium_context(profile: Path) -> Iterator[Any]:
    """A fresh headless Chromium profile in ``profile`` (cookies, storage: nothing shared)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium_or_skip(), headless=True, args=FLAGS,
            accept_downloads=True, viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        try:
            yield context
        finally:
            context.close()


class Tab:
    """One page of the browser, with the checks every console page must pass.

    Args:
        context: the browser context.
        base_url: the server's base URL.
        secrets: strings that must never appear in a URL (tokens and their secret parts).
    """

    def __init__(self, context: Any, base_url: str, secrets: list[str], shots: Path) -> None:
        self.shots = DOCS_SHOTS if os.environ.get("BYOK_CONSOLE_SCREENSHOTS") == "docs" else shots
        self.page = context.new_page()
        self.page.set_default_timeout(15_000)
        self.base_url = base_url
        self.secrets = secrets
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("request", lambda request: self.urls.append(request.url))
        self.page.on("framenavigated", lambda frame: self.urls.append(frame.url))

    def _on_console(self, message: Any) -> None:
        if message.type in ("error", "warning") and not self._expected(message.text):
            self.errors.append(f"console {message.type}: {message.text}")

    @staticmethod
    def _expected(text: str) -> bool:
        # The browser logs the refusals the tests provoke on purpose: a wrong token (401),
        # a forged form (403), another tenant's page (404), a wrong hand-over (422).
        return any(
            f"the server responded with a status of {status}" in text
            for status in (401, 403, 404, 422)
        )

    def goto(self, path: str) -> Any:
        """Open ``path`` on the server; returns the response."""
        return self.page.goto(self.base_url + path)

    def check(self) -> None:
        """Assert the current page has every control labelled."""
        unlabelled = self.page.evaluate(_UNLABELLED_JS)
        assert unlabelled == [], f"unlabelled controls on {self.page.url}: {unlabelled}"

    def shot(self, name: str) -> None:
        """Check the page, then screenshot it as <name>.png (docs/console with ``make
        screenshots``)."""
        self.check()
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def tab_to(self, selector: str, *, limit: int = 60) -> None:
        """Press Tab until the element matching ``selector`` has the focus (keyboard only)."""
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            if self.page.evaluate("(s) => document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"Tab never reached {selector} on {self.page.url}")

    def assert_clean(self) -> None:
        """No console or page error, and no URL ever carried a secret."""
        assert self.errors == [], self.errors
        leaked = [u for u in self.urls for s in self.secrets if s and s in u]
        assert leaked == [], f"a token appeared in a URL: {leaked}"
