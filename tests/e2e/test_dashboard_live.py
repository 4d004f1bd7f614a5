"""The dashboard against the real thing: `edgeloop serve` (agent, broker, API) at autonomy 2 with the factory
simulator running, users who log in with a password, values changing live, a command approved and acked."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PASSWORDS = {"ana": "pump-room-7", "eve": "night-shift"}
WAIT_MS = 90_000  # for what the simulated plant must do first (a fault developing, an ack)


FILLED = {  # what shows that a page's data has arrived
    "fleet": ["#sites tbody tr", "#anomalies tbody tr"],
    "site": ["#devices polyline[points*=' ']", "#devices tbody tr td:nth-child(2):text-matches('pump|motor')"],
    "decisions": ["#decisions tbody tr"],
    "roi": ["#roi-plots figure[data-chart=downtime] canvas"],
    "audit": ["#audit-log tbody tr"],
}


@dataclass
class Plant:
    url: str
    admin: str


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    """`edgeloop serve` on the embedded broker and `edgeloop sim factory` talking to it, as a user runs them."""
    data = tmp_path_factory.mktemp("plant")
    log = data / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "edgeloop", "serve", "--autonomy", "2", "--site", "factory",
             "--data-dir", str(data), "--port", "0"],
            stdout=subprocess.DEVNULL, stderr=out,
        )  # fmt: skip
    sim: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 60
        while not re.search(r"el_\w+_\S+", log.read_text()) and time.monotonic() < deadline:
            assert serve.poll() is None, log.read_text()[-2000:]
            time.sleep(0.1)
        said = log.read_text()
        where, token = re.search(r"on (mqtt://\S+); dashboard (http://\S+/)", said), re.search(r"(el_\w+_\S+)", said)
        assert where is not None, said
        assert token is not None, said
        broker, url, admin = where.group(1), where.group(2), token.group(1)
        sim = subprocess.Popen(
            [sys.executable, "-m", "edgeloop", "sim", "factory", "--broker", broker, "--site", "factory",
             "--devices", "10", "--speed", "4320", "--seed", "0", "--quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for name, role in (("ana", "operator"), ("eve", "viewer")):
            made = httpx.post(f"{url}api/v1/users", json={"name": name, "role": role, "password": PASSWORDS[name]},
                              headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
            assert made.status_code == 201, made.text
        yield Plant(url, admin)
    finally:
        if sim is not None:
            _stop(sim)
        _stop(serve)


def log_in(browser: Browser, plant: Plant, name: str, size: ViewportSize | None = None) -> Page:
    page = browser.new_page(viewport=size or DESKTOP)
    page.goto(plant.url)
    page.fill("#user", name)
    page.fill("#password", PASSWORDS[name])
    page.click("#login button")
    expect(page.locator("#me")).to_have_text(f"{name} ({'operator' if name == 'ana' else 'viewer'})")
    return page


def test_an_operator_sees_values_change_live_and_approves_a_command_that_gets_acked(
    browser: Browser, plant: Plant, shots: Path
) -> None:
    page = log_in(browser, plant, "ana")
    expect(page.locator("#live")).to_have_text("live")
    page.click("nav a[data-page=site]")
    value = page.locator("#devices tbody tr").first.locator(".reading .value").first
    expect(value).not_to_have_text("", timeout=WAIT_MS)
    before = value.text_content()
    expect(value).not_to_have_text(before or "", timeout=WAIT_MS)  # a new reading arrived over SSE, no reload
    page.screenshot(path=str(shots / "live-site.png"), full_page=True)

    page.click("nav a[data-page=decisions]")
    for _ in range(5):
        first = page.locator("#approvals tbody tr").first
        expect(first).to_be_visible(timeout=WAIT_MS)
        decision = first.get_attribute("data-decision") or ""
        page.screenshot(path=str(shots / "live-pending.png"), full_page=True)
        approve = first.locator("button.approve")
        expect(approve).to_be_enabled(timeout=WAIT_MS)
        approve.click()
        page.fill("#answer-why", "checked on the live view")  # the confirmation step, with the operator's why
        page.click("#answer-confirm")
        expect(page.locator("#message")).to_contain_text(decision[:8])
        if "expired" not in (page.locator("#message").text_content() or ""):
            break
        # plant time runs fast: its device failed, was repaired or went under maintenance before the click, and
        # the approval expired with it (refused, 409); the operator takes the next one, once the list has dropped
        # this one (a click on the old row while the page re-renders it waits on a disabled or detached button)
        expect(page.locator(f"#approvals tbody tr[data-decision='{decision}']")).to_have_count(0, timeout=WAIT_MS)

    answered = page.locator(f"#answered tbody tr[data-decision='{decision}']")
    expect(answered).to_contain_text("approved")
    # the device answered the command: done, or refused by a device that failed meanwhile (the realistic fault mix
    # has failures with no warning); never left waiting
    expect(answered.locator("td.command-status")).to_have_text(
        re.compile("^(acked|rejected by device)$"), timeout=WAIT_MS
    )
    page.screenshot(path=str(shots / "live-acked.png"), full_page=True)
    page.close()


def test_a_viewer_sees_pending_decisions_but_no_approve_button(browser: Browser, plant: Plant, shots: Path) -> None:
    page = log_in(browser, plant, "eve")
    page.click("nav a[data-page=decisions]")
    expect(page.locator("#approvals tbody tr").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#approvals button")).to_have_count(0)
    expect(page.locator("#approvals tbody tr").first).to_contain_text("operators only")
    page.screenshot(path=str(shots / "live-viewer-decisions.png"), full_page=True)
    denied = httpx.post(f"{plant.url}api/v1/login", json={"name": "eve", "password": PASSWORDS["eve"]}).json()
    pending = page.locator("#approvals tbody tr").first.get_attribute("data-decision")
    refused = httpx.post(f"{plant.url}api/v1/approvals/{pending}/approve", json={"by": "eve"},
                         headers={"Authorization": f"Bearer {denied['token']}"})  # fmt: skip
    assert refused.status_code == 403  # and the API refuses what the page does not offer
    page.close()


def test_the_live_pages_fit_the_screen(
    browser: Browser, plant: Plant, screen: tuple[str, ViewportSize], shots: Path
) -> None:
    viewport, size = screen
    page = log_in(browser, plant, "ana", size)
    for name in ("fleet", "site", "decisions", "roi", "audit"):
        page.click(f"nav a[data-page={name}]")
        expect(page.locator(f"#page-{name}")).to_be_visible()
        for selector in FILLED[name]:
            expect(page.locator(selector).first).to_be_visible(timeout=WAIT_MS)
        page.screenshot(path=str(shots / f"live-{name}-{viewport}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} at {viewport} is {overflow}px wider than the screen"
    page.click("nav a[data-page=fleet]")  # the device of the newest anomaly episode: its history
    page.locator("#anomalies tbody a").first.click()
    expect(page.locator("#device-charts canvas").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#device-charts .span-anomaly").first).to_be_attached(timeout=WAIT_MS)
    expect(page.locator("#device-timeline tbody tr").first).to_be_visible()  # filled after every chart
    page.screenshot(path=str(shots / f"live-device-{viewport}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the device page at {viewport} is {overflow}px wider than the screen"
    page.close()
