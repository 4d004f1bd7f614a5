"""One ledger, four places that show it: `roi report`, its HTML page, the API and the dashboard (which draws the
API's `headline.rows` as they are) all show the same figures under the same labels."""

from __future__ import annotations

import html
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.conftest import TOKENS
from tests.unit.ledger.test_report import simulated_ledger
from typer.testing import CliRunner

from edgeloop.api.app import create_app
from edgeloop.cli import app
from edgeloop.io.store import SqliteStore
from edgeloop.ledger import headline, load_economics
from edgeloop.ledger.headline import rows
from edgeloop.ledger.site_ledger import N_BOOT, LedgerRows, site_ledger
from edgeloop.settings import Settings, load_settings

SITE = "plant"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A site store holding a random fortnight of 40 devices' ledger, as the agent would have booked it."""
    settings = load_settings(None, agent={"site": SITE, "data_dir": tmp_path}, api={"tokens": TOKENS})
    ledger, record = simulated_ledger(load_economics(), seed=3)
    store = SqliteStore(settings.agent.db_path, SITE)
    store.write_holdout(record.to_json(), 0.0)
    store.write_entries([e.to_json() for e in ledger])
    for day in sorted({e.day for e in ledger}):
        store.write_day(day)
    store.flush()
    store.close()
    return settings


def _expected(settings: Settings) -> list[tuple[str, str]]:
    store = SqliteStore(settings.agent.db_path, SITE)
    try:
        data = LedgerRows(store.read_holdout(), store.read_entries(), store.read_days())
    finally:
        store.close()
    return rows(headline(site_ledger(SITE, data, n_boot=N_BOOT).report))


def test_the_cli_the_html_page_the_api_and_the_dashboard_show_the_same_headline(
    settings: Settings, tmp_path: Path
) -> None:
    expected = _expected(settings)
    page = tmp_path / "roi.html"
    where = ["--site", SITE, "--data-dir", str(settings.agent.data_dir)]

    shown = CliRunner().invoke(app, ["roi", "report", "--html", str(page), *where], env={"COLUMNS": "200"})
    as_json = CliRunner().invoke(app, ["roi", "report", "--json", *where])
    with TestClient(create_app(settings)) as client:
        served = client.get("/api/v1/roi", headers={"Authorization": "Bearer viewer-token-0123456789"}).json()
        script = client.get("/static/app.js").text

    assert expected[0][0] == "measured value"
    text = shown.stdout
    written = page.read_text()
    missing_cli = [r for r in expected if r[0] not in text or r[1] not in text]
    missing_html = [r for r in expected if html.escape(r[0]) not in written or html.escape(r[1]) not in written]
    assert missing_cli == []
    assert missing_html == []
    assert [tuple(r) for r in served["headline"]["rows"]] == expected
    assert served["headline"] == orjson.loads(as_json.stdout)["headline"]
    assert "r.headline.rows" in script  # the dashboard draws the API's rows as they are, computing nothing
