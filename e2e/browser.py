"""A person at the web console in a real browser: Debian's chromium driven by Playwright.

Playwright never downloads a browser here: it is pointed at /usr/bin/chromium (installed by the
Makefile's environment step). Sign-in goes through the issuer's real login page.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from basira.runtime.supervisor import Platform

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
WEB = Path(__file__).resolve().parents[1] / "services" / "basira" / "console" / "web"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 1280, "height": 900}

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra pins it
    sync_playwright = None  # type: ignore[assignment]


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless; skips (saying how to get it) when it or the web build is missing."""
    if sync_playwright is None or not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's chromium and Playwright: run `make venv`")
    if not (WEB / "dist" / "index.html").exists():
        pytest.skip("the console's web app is not built: run `make console-web`")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(browser: Browser, platform: Platform, user: str, *, path: str = "/", locale: str = "en",
            bypass_csp: bool = False) -> tuple[BrowserContext, Page]:
    """A fresh browser profile signed in as `user` through the console's sign-in and the login page."""
    # The sign-in page is the platform's identity issuer, over HTTPS with the platform's own CA, which
    # this throw-away browser profile has not imported (a person imports <data dir>/tls/ca.pem once).
    context = browser.new_context(viewport=VIEWPORT, locale=locale, bypass_csp=bypass_csp,  # type: ignore[arg-type]
                                  ignore_https_errors=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    separator = "&" if "?" in path else "?"
    page.goto(f"{platform.endpoints['console']}{path}{separator}lang={locale}")
    page.get_by_test_id("sign-in").click()
    page.wait_for_selector("#kc-form-login")
    page.fill("#username", user)
    page.fill("#password", f"{user}-dev-password")
    page.locator("#kc-form-login [type=submit]").click()
    page.get_by_test_id("me").wait_for()
    return context, page
