"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against the real API server, on a
site store with one decision waiting for approval: tokens, roles and every page's layout at two sizes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize, expect

from edgeloop.agent.site import SiteAgent
from edgeloop.settings import Settings

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PAGES = ("fleet", "site", "decisions", "roi", "audit")


def connect(browser: Browser, url: str, headers: dict[str, str], size: ViewportSize | None = None) -> Page:
    page = browser.new_page(viewport=size or DESKTOP)
    page.goto(url.removesuffix("/api/v1") + "/")
    page.click("summary")
    page.fill("#token", headers["Authorization"].removeprefix("Bearer "))
    page.click("#token-login button")
    expect(page.locator("#nav")).to_be_visible()
    return page


def test_a_wrong_token_shows_an_error_and_no_data(browser: Browser, api_site: tuple[Settings, SiteAgent, str]) -> None:
    _, _, url = api_site
    page = browser.new_page()
    page.goto(url.removesuffix("/api/v1") + "/")
    page.click("summary")
    page.fill("#token", "not-a-real-token-at-all")
    page.click("#token-login button")

    expect(page.locator("#message")).to_contain_text("Wrong user name, password or token")
    expect(page.locator("#nav")).to_be_hidden()
    expect(page.locator("#decisions tbody tr")).to_have_count(0)
    page.close()


def test_an_operator_approves_from_the_decisions_page(
    browser: Browser,
    api_site: tuple[Settings, SiteAgent, str],
    agent_reading_inbox: Callable[[], None],
    auth: Callable[[str], dict[str, str]],
) -> None:
    _, agent, url = api_site
    page = connect(browser, url, auth("operator"))
    page.click("nav a[data-page=decisions]")
    expect(page.locator("#approvals tbody tr")).to_have_count(1)
    page.click("#approvals tbody button.approve")

    expect(page.locator("#message")).to_contain_text("approved")
    expect(page.locator("#approvals tbody tr")).to_have_count(0)
    expect(page.locator("#answered tbody tr")).to_contain_text("sent, waiting for ack")
    assert agent.stats.commands_sent == 1
    page.close()


def test_a_viewer_gets_no_approve_button(
    browser: Browser, api_site: tuple[Settings, SiteAgent, str], auth: Callable[[str], dict[str, str]]
) -> None:
    _, agent, url = api_site
    page = connect(browser, url, auth("viewer"))
    page.click("nav a[data-page=decisions]")

    expect(page.locator("#approvals tbody tr")).to_have_count(1)
    expect(page.locator("#approvals tbody tr")).to_contain_text("operators only")
    expect(page.locator("#approvals button")).to_have_count(0)
    expect(page.locator("#role-note")).to_contain_text("need the operator role")
    assert agent.stats.commands_sent == 0
    page.close()


def test_every_page_fits_the_screen(
    browser: Browser,
    api_site: tuple[Settings, SiteAgent, str],
    auth: Callable[[str], dict[str, str]],
    screen: tuple[str, ViewportSize],
    shots: Path,
) -> None:
    _, _, url = api_site
    viewport, size = screen
    page = connect(browser, url, auth("viewer"), size)
    expect(page.locator("#devices tbody tr")).to_have_count(10)
    for name in PAGES:
        page.click(f"nav a[data-page={name}]")
        expect(page.locator(f"#page-{name}")).to_be_visible()
        if name == "roi":
            expect(page.locator("#roi-plots img")).to_have_count(3)
        if name == "audit":
            expect(page.locator("#audit-ok")).to_have_text("holds")
        page.screenshot(path=str(shots / f"store-{name}-{viewport}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} at {viewport} is {overflow}px wider than the screen"
    page.close()
