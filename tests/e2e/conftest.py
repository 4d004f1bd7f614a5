"""The browser for the dashboard tests: Debian's chromium, launched by path (nothing is downloaded at run time)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ViewportSize, sync_playwright

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "tablet": {"width": 768, "height": 1024},
}


@pytest.fixture(scope="module")  # not wider: while Playwright's sync API runs, asyncio.run cannot
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.fail("the browser tests need Debian's chromium: apt-get install chromium (.ci/run installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save their screenshots, to look at: `screenshots` in pytest's temporary
    directory of the run (pytest keeps the last three runs'; `--basetemp` chooses it)."""
    return tmp_path_factory.mktemp("screenshots", numbered=False)


@pytest.fixture(params=list(SCREENS))
def screen(request: pytest.FixtureRequest) -> tuple[str, ViewportSize]:
    """Each test that takes this runs at 1280x800 and on a tablet (768x1024): (name, size)."""
    return str(request.param), SCREENS[request.param]
