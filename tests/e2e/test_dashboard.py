"""The live dashboard in a real browser (Debian's chromium, driven by Playwright) against the real API server."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import orjson
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.settings import Settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path("test-output/screenshots")  # kept after the run (git-ignored), to look at
SHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.fail("the browser tests need Debian's chromium: apt-get install chromium (.ci/run installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def open_dashboard(browser: Browser, url: str, headers: dict[str, str], name: str) -> Page:
    page = browser.new_page()
    page.goto(url.removesuffix("/api/v1") + "/")
    page.fill("#token", headers["Authorization"].removeprefix("Bearer "))
    page.fill("#who", name)
    page.click("#login button")
    return page


def test_an_operator_sees_the_pending_decision_and_approves_it(
    browser: Browser,
    api_site: tuple[Settings, SiteAgent, str],
    agent_reading_inbox: Callable[[], None],
    auth: Callable[[str], dict[str, str]],
) -> None:
    _, agent, url = api_site
    page = open_dashboard(browser, url, auth("operator"), "ana")

    expect(page.locator("#n-pending")).to_have_text("1")
    expect(page.locator("#decisions tbody tr")).to_have_count(1)
    expect(page.locator("#decisions tbody td.status-pending_approval")).to_have_count(1)
    expect(page.locator("#audit")).to_contain_text("OK")
    page.click("#approvals tbody button:text('approve')")

    expect(page.locator("#last-action")).to_contain_text("approved")
    expect(page.locator("#n-pending")).to_have_text("0")
    page.screenshot(path=str(SHOTS / "dashboard-approved.png"), full_page=True)
    assert agent.stats.commands_sent == 1
    page.close()


def test_a_viewer_is_told_it_may_not_approve(
    browser: Browser,
    api_site: tuple[Settings, SiteAgent, str],
    agent_reading_inbox: Callable[[], None],
    auth: Callable[[str], dict[str, str]],
) -> None:
    _, agent, url = api_site
    page = open_dashboard(browser, url, auth("viewer"), "eve")

    expect(page.locator("#n-pending")).to_have_text("1")
    page.click("#approvals tbody button:text('approve')")

    expect(page.locator("#last-action")).to_contain_text("needs the operator role")
    page.screenshot(path=str(SHOTS / "dashboard-viewer-refused.png"), full_page=True)
    expect(page.locator("#n-pending")).to_have_text("1")
    assert agent.stats.commands_sent == 0
    page.close()


def test_a_wrong_token_shows_an_error_and_no_data(browser: Browser, api_site: tuple[Settings, SiteAgent, str]) -> None:
    _, _, url = api_site
    page = browser.new_page()
    page.goto(url.removesuffix("/api/v1") + "/")
    page.fill("#token", "not-a-real-token-at-all")
    page.click("#login button")

    expect(page.locator("#status")).to_contain_text("401")
    expect(page.locator("#decisions tbody tr")).to_have_count(0)
    page.close()


def test_a_new_decision_appears_live_without_a_reload(
    browser: Browser, api_site: tuple[Settings, SiteAgent, str], auth: Callable[[str], dict[str, str]]
) -> None:
    _, agent, url = api_site
    page = open_dashboard(browser, url, auth("viewer"), "vic")
    expect(page.locator("#decisions tbody tr")).to_have_count(1)
    expect(page.locator("#status")).to_contain_text("live")

    assert agent.books is not None
    quiet = next(d for d in agent.books.record.devices() if agent.store.count("decisions", "device=?", (d,)) == 0)
    for i, v in enumerate([4.0 + 0.05 * (i % 3) for i in range(100)] + [25.0] * 6):
        payload = orjson.dumps({"ts": 1_700_006_400.0 + 15 * i, "metrics": {"vibration": v}})
        cast(Loopback, agent.client).deliver(f"edgeloop/v1/apisite/{quiet}/telemetry", payload)
    agent.handle_batch(cast(Loopback, agent.client).drain(1000))
    agent.store.flush()

    expect(page.locator("#decisions tbody tr")).to_have_count(2)
    expect(page.locator(f"#decisions tbody tr >> text={quiet}")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "dashboard-live.png"), full_page=True)
    page.close()
