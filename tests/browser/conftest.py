"""Fixtures of the console's browser tests: one real `strongroom server` for
the session (each test makes its own users), and browsers, each with its own
profile and cookie jar. The harness is console_harness.py."""

import os

# Before Selenium is imported anywhere: Selenium Manager must never try the network.
os.environ["SE_OFFLINE"] = "true"

import pytest

from console_harness import CHROMEDRIVER, CHROMIUM, PASSWORD, Browsers, Console, Server


@pytest.fixture(scope="session")
def console():
    """A server with its first admin, as `strongroom init` makes it."""
    server = Server()
    try:
        server.cli("init", "--password-stdin", stdin=PASSWORD + "\n")
        yield Console(server)
    finally:
        server.stop()


@pytest.fixture
def browser():
    """Opens a browser: `browser()`; twice gives two that share nothing."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not os.access(program, os.X_OK):
            pytest.fail(f"{program} is missing: run scripts/browser.sh (Debian's chromium and chromium-driver)")
    browsers = Browsers()
    yield browsers.open
    browsers.close()
