import os

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# around it are still synchronous and safe (DESIGN.md, Tests).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        # CI sets LEADSHARE_REQUIRE_BROWSER so that a missing browser fails the run instead
        # of silently skipping the portal's browser tests.
        message = f"no Chromium at {CHROMIUM} (set CHROMIUM_PATH)"
        if os.environ.get("LEADSHARE_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page_for(browser):
    """New isolated browser contexts (own cookies), closed after the test."""
    contexts = []

    def make(locale="en-US", viewport=None):
        context = browser.new_context(locale=locale, viewport=viewport or
                                      {"width": 1280, "height": 800})
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
