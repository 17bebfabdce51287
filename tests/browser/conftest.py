"""Playwright drives Debian's Chromium headless shell; `playwright install` cannot download a browser here.

The headless shell is the same Chromium (Debian's package of the same version) without the full
browser's interface; Playwright itself runs it for headless tests. The full browser in headless mode
took a third more CPU for the same tests (docs/testing.md). CHROMIUM=/usr/bin/chromium runs them on
the full browser.
"""

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium-headless-shell"))

# Playwright's sync API runs an event loop in the test thread, and Django refuses ORM calls
# from a thread with a running loop; the test's own ORM calls here are plain and sequential.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not CHROMIUM.exists():
        pytest.exit(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium-headless-shell", 2)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def console_errors(page) -> list[str]:
    """Errors the page logs, CSP violations included; a test asserts this stays empty."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.fixture
def context(asgi_server: str, new_context: Callable[..., BrowserContext]) -> BrowserContext:
    """The test's browser context (pytest-playwright's), closed before the test's server connections
    are ended: the session's server outlives the test, and a page still open would reconnect to it
    while the tables are being flushed."""
    return new_context()
