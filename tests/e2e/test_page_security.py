"""The dashboard and the OpenAPI page in a real browser under the API's content security policy: no inline
script or style is refused (there is none), nothing is fetched from elsewhere, and both pages work offline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect

from edgeloop.agent.site import SiteAgent
from edgeloop.settings import Settings


@dataclass
class Watched:
    """A page whose CSP refusals and requests to other hosts are collected."""

    page: Page
    refused: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)


def _watch(browser: Browser, base: str) -> Watched:
    watched = Watched(browser.new_page())

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            watched.refused.append(message.text)

    def on_request(request: Request) -> None:
        if not request.url.startswith((base, "blob:", "data:")):
            watched.elsewhere.append(request.url)

    watched.page.on("console", on_console)
    watched.page.on("request", on_request)
    return watched


def test_the_openapi_page_renders_from_local_files_under_the_csp(
    browser: Browser, api_site: tuple[Settings, SiteAgent, str]
) -> None:
    _, _, url = api_site
    base = url.removesuffix("/api/v1")
    watched = _watch(browser, base)
    page = watched.page
    page.goto(base + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("edgeloop site")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    page.close()
    assert watched.refused == []
    assert watched.elsewhere == []


def test_the_dashboard_runs_under_the_csp(
    browser: Browser, api_site: tuple[Settings, SiteAgent, str], auth: Callable[[str], dict[str, str]]
) -> None:
    _, _, url = api_site
    base = url.removesuffix("/api/v1")
    watched = _watch(browser, base)
    page = watched.page
    page.goto(base + "/")
    page.click("summary")
    page.fill("#token", auth("viewer")["Authorization"].removeprefix("Bearer "))
    page.click("#token-login button")
    expect(page.locator("#nav")).to_be_visible()
    page.click("nav a[data-page=site]")
    expect(page.locator("#page-site")).to_be_visible()  # (once, in a full run, the click came before the page)
    page.click("#devices a[href^='#device/']")  # a device page: its uPlot charts
    expect(page.locator("#device-charts canvas").first).to_be_visible(timeout=20_000)
    for name in ("site", "decisions", "audit", "roi"):  # the ROI page last: its charts are checked
        page.click(f"nav a[data-page={name}]")
    expect(page.locator("#roi-plots canvas").first).to_be_visible(timeout=20_000)
    page.close()
    assert watched.refused == []
    assert watched.elsewhere == []
