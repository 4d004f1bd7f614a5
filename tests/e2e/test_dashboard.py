"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against the real API server, on a
site store with one decision waiting for approval: tokens, roles, every page's layout and content at two sizes
(with no console error), and a device's page with its history, anomaly span, decision and failure."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from playwright.sync_api import Browser, Page, ViewportSize, expect
from tests.conftest import T0, fail_the_pending_device

from edgeloop.agent.site import SiteAgent
from edgeloop.ledger import Arm, Draft, EntryKind, money
from edgeloop.ledger.entries import DAY
from edgeloop.settings import Settings

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PAGES = ("fleet", "site", "decisions", "roi", "audit")


@dataclass
class Console:
    """What a page said on its console that it should not: errors, uncaught exceptions, CSP refusals."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page


def connect(
    browser: Browser,
    url: str,
    headers: dict[str, str],
    size: ViewportSize | None = None,
    console: Console | None = None,
) -> Page:
    page = browser.new_page(viewport=size or DESKTOP)
    if console is not None:
        console.watch(page)
    page.goto(url.removesuffix("/api/v1") + "/")
    page.click("summary")
    page.fill("#token", headers["Authorization"].removeprefix("Bearer "))
    page.click("#token-login button")
    expect(page.locator("#nav")).to_be_visible()
    return page


def fits(page: Page, what: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{what} is {overflow}px wider than the screen"


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


def test_an_operator_approves_from_the_decisions_page_after_confirming_with_a_why(
    browser: Browser,
    api_site: tuple[Settings, SiteAgent, str],
    agent_reading_inbox: Callable[[], None],
    auth: Callable[[str], dict[str, str]],
    shots: Path,
) -> None:
    _, agent, url = api_site
    page = connect(browser, url, auth("operator"))
    page.click("nav a[data-page=decisions]")
    expect(page.locator("#approvals tbody tr")).to_have_count(1)
    page.click("#approvals tbody button.approve")

    dialog = page.locator("#answer-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Approve schedule_maintenance within_h=0.5 on pump-")
    expect(dialog).to_contain_text("rule sustained_anomaly")
    assert agent.stats.commands_sent == 0  # nothing is sent before the operator confirms
    page.fill("#answer-why", "bearing noise heard on the round")
    page.screenshot(path=str(shots / "approval-confirm.png"))
    page.click("#answer-confirm")

    expect(page.locator("#message")).to_contain_text("approved")
    expect(dialog).to_be_hidden()
    expect(page.locator("#approvals tbody tr")).to_have_count(0)
    expect(page.locator("#answered tbody tr")).to_contain_text("sent, waiting for ack")
    expect(page.locator("#answered tbody tr td.reason")).to_have_text("bearing noise heard on the round")
    assert agent.stats.commands_sent == 1
    assert '"why":"bearing noise heard on the round"' in (agent.settings.audit_dir / "audit.jsonl").read_text()
    page.close()


def test_cancelling_the_confirmation_answers_nothing(
    browser: Browser, api_site: tuple[Settings, SiteAgent, str], auth: Callable[[str], dict[str, str]]
) -> None:
    _, agent, url = api_site
    page = connect(browser, url, auth("operator"))
    page.click("nav a[data-page=decisions]")
    page.click("#approvals tbody button.reject")
    expect(page.locator("#answer-dialog")).to_contain_text("Reject schedule_maintenance")

    page.click("#answer-cancel")

    expect(page.locator("#answer-dialog")).to_be_hidden()
    expect(page.locator("#approvals tbody button.approve")).to_be_enabled()
    assert agent.store.count("inbox") == 0
    page.close()


def test_a_pending_approval_shows_its_score_metrics_and_rule(
    browser: Browser, api_site: tuple[Settings, SiteAgent, str], auth: Callable[[str], dict[str, str]]
) -> None:
    _, _, url = api_site
    [item] = httpx.get(f"{url}/approvals", headers=auth("viewer")).json()["items"]
    page = connect(browser, url, auth("viewer"))
    page.click("nav a[data-page=decisions]")

    row = page.locator("#approvals tbody tr")
    expect(row).to_contain_text(f"{item['score']:.3f}")
    expect(row.locator("td.metrics")).to_have_text(f"vibration {item['metrics']['vibration']:.2f}")
    expect(row.locator("td.reason")).to_contain_text(f"{item['rule']}: {item['reason']}")
    page.close()


def test_an_approval_whose_device_failed_shows_the_reason_and_no_buttons(
    browser: Browser, api_site: tuple[Settings, SiteAgent, str], auth: Callable[[str], dict[str, str]], shots: Path
) -> None:
    _, agent, url = api_site
    fail_the_pending_device(agent, url, auth("viewer"))

    page = connect(browser, url, auth("operator"))
    page.click("nav a[data-page=decisions]")

    expect(page.locator("#answered tbody tr")).to_have_count(1)
    expect(page.locator("#answered tbody tr td.answer")).to_have_text("expired: device failed")
    expect(page.locator("#approvals tbody tr")).to_have_count(0)
    expect(page.locator("#page-decisions button.approve")).to_have_count(0)
    page.screenshot(path=str(shots / "approval-expired.png"), full_page=True)
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
    console = Console()
    page = connect(browser, url, auth("viewer"), size, console)
    expect(page.locator("#devices tbody tr")).to_have_count(10)
    for name in PAGES:
        page.click(f"nav a[data-page={name}]")
        expect(page.locator(f"#page-{name}")).to_be_visible()
        if name == "fleet":
            expect(page.locator("#anomalies tbody tr")).to_have_count(1)
            expect(page.locator("#n-health .health-unknown")).to_have_attribute(
                "title", re.compile("no recent reading")
            )
        if name == "site":
            expect(page.locator("#devices td.health-unknown").first).to_have_text("unknown")
        if name == "roi":
            expect(page.locator("#roi-plots figure.chart canvas")).to_have_count(4)
            sizes = {tuple(b.values()) for b in page.locator("#roi-plots figure.chart canvas").evaluate_all(
                "cs => cs.map(c => ({w: c.clientWidth, h: c.clientHeight}))")}  # fmt: skip
            assert len(sizes) == 1, f"the ROI charts differ in size: {sizes}"
        if name == "audit":
            expect(page.locator("#audit-ok")).to_have_text("holds")
        page.screenshot(path=str(shots / f"store-{name}-{viewport}.png"), full_page=True)
        fits(page, f"{name} at {viewport}")
    page.close()
    assert console.errors == []


def test_a_device_page_shows_history_anomalies_decisions_and_events(
    browser: Browser,
    api_site: tuple[Settings, SiteAgent, str],
    auth: Callable[[str], dict[str, str]],
    screen: tuple[str, ViewportSize],
    shots: Path,
) -> None:
    _, agent, url = api_site
    viewport, size = screen
    busy = next(d for d in httpx.get(f"{url}/devices", headers=auth("viewer")).json()["items"] if d["last_decision"])
    device = busy["device"]
    agent.client.deliver(f"edgeloop/v1/apisite/{device}/event", orjson.dumps({"ts": T0 + 1590, "kind": "failure"}))
    agent.handle_batch(agent.client.drain(10))
    agent.store.flush()
    console = Console()
    page = connect(browser, url, auth("viewer"), size, console)

    page.click("nav a[data-page=site]")
    page.click(f"#devices a[href='#device/{device}']")

    expect(page.locator("#page-device")).to_be_visible()
    expect(page.locator("#device-name")).to_have_text(device)
    expect(page.locator("#device-health")).to_have_text("down")
    chart = page.locator("#device-charts figure.chart[data-metric=vibration]")
    expect(chart.locator("figcaption")).to_have_text("vibration (mm/s), range 0 to 50")
    expect(chart.locator("canvas")).to_have_count(1)
    expect(chart.locator(".span-anomaly").first).to_be_visible()
    expect(chart.locator(".marker.decision")).to_have_count(1)
    expect(chart.locator(".marker.event")).to_contain_text("failure")
    expect(page.locator("#device-timeline tbody tr")).to_have_count(2)
    page.screenshot(path=str(shots / f"store-device-{viewport}.png"), full_page=True)
    fits(page, f"the device page at {viewport}")
    area = chart.locator("div[data-points]")
    before = int(area.get_attribute("data-points") or 0)
    for i in range(3):  # new readings reach the chart over the event stream, without a reload
        payload = {"ts": T0 + 1600 + 15 * i, "metrics": {"vibration": 4.0}}
        agent.client.deliver(f"edgeloop/v1/apisite/{device}/telemetry", orjson.dumps(payload))
    agent.handle_batch(agent.client.drain(10))
    agent.store.flush()
    expect(area).not_to_have_attribute("data-points", str(before), timeout=10_000)

    page.click("nav a[data-page=fleet]")  # and the anomalies table links to it too
    page.click(f"#anomalies a[href='#device/{device}']")
    expect(page.locator("#device-charts canvas")).to_have_count(1)
    page.close()
    assert console.errors == []


def book_two_weeks(agent: SiteAgent) -> None:
    """Fourteen days of ledger entries as the agent books them: treated pumps get maintenance (some of it on
    false alarms), holdout pumps fail now and then, each with eight hours of downtime."""
    assert agent.books is not None
    rng = random.Random(0)
    first = int(T0 // DAY)
    drafts = []
    for day in range(first, first + 14):
        agent.store.write_day(day)
        for a in agent.books.record.assignments:
            ts = day * DAY + 3600 * rng.randrange(24)
            if a.arm is Arm.TREATED and rng.random() < 0.15:
                kind = EntryKind.FALSE_ALARM if rng.random() < 0.4 else EntryKind.MAINTENANCE
                drafts.append(Draft(a.device, a.asset_type, a.arm, ts, kind, money(-900), "test", action="inspect"))
            if rng.random() < (0.01 if a.arm is Arm.TREATED else 0.12):
                drafts.append(Draft(a.device, a.asset_type, a.arm, ts, EntryKind.FAILURE, money(-12_000), "test",
                                    action="schedule_maintenance", quantity=8.0))  # fmt: skip
    agent.store.write_entries([e.to_json() for e in agent.books.ledger.extend(drafts)])
    agent.store.flush()


def test_the_roi_page_draws_the_ledger_over_time(
    browser: Browser,
    api_site: tuple[Settings, SiteAgent, str],
    auth: Callable[[str], dict[str, str]],
    screen: tuple[str, ViewportSize],
    shots: Path,
) -> None:
    _, agent, url = api_site
    viewport, size = screen
    book_two_weeks(agent)
    console = Console()
    page = connect(browser, url, auth("viewer"), size, console)

    page.click("nav a[data-page=roi]")

    charts = page.locator("#roi-plots figure.chart")
    expect(charts).to_have_count(4)
    expect(charts.locator("canvas")).to_have_count(4)
    expect(page.locator("#roi-plots figure[data-chart=uplift] .note")).to_contain_text("95% interval")
    expect(page.locator("#roi-cards .card p.negative").first).to_be_visible()  # a loss, in the warning colour
    # each card explains its figure in the glossary's words (edgeloop.ledger.headline, docs/ledger.md)
    expect(page.locator("#roi-cards .card").first).to_have_attribute("title", re.compile("holdout"))
    page.screenshot(path=str(shots / f"ledger-roi-{viewport}.png"), full_page=True)
    fits(page, f"the ROI page at {viewport}")
    page.close()
    assert console.errors == []
