"""`edgeloop policy check|explain` as a user runs them: exit codes and what they print."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgeloop.cli.policy import policy_app

runner = CliRunner()
GOOD = """\
version: 1
autonomy: {site: 1, asset_types: {pump: 3}}
rules:
  - {name: wear, when: {min_score: 0.9}, action: schedule_maintenance, args: {within_h: 2}}
"""


def test_check_exits_0_and_summarizes_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)

    result = runner.invoke(policy_app, ["check", str(path)])

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "OK: 1 rule, autonomy site 1, asset types pump 3"


def test_check_exits_1_and_names_the_line_of_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD.replace("site: 1", "site: 5"))

    result = runner.invoke(policy_app, ["check", str(path)])

    assert result.exit_code == 1
    assert "line 2: autonomy.site" in result.stdout


def test_check_exits_2_when_the_file_cannot_be_read(tmp_path: Path) -> None:
    result = runner.invoke(policy_app, ["check", str(tmp_path / "missing.yaml")])

    assert result.exit_code == 2
    assert "cannot read" in result.stderr


RECORD = {
    "id": "d1",
    "device": "p1",
    "rule": "wear",
    "status": "blocked",
    "autonomy": 3,
    "reason": "guardrail quiet_hours: inside",
    "guardrails": [
        {"name": "envelope", "passed": True, "detail": "fits"},
        {"name": "quiet_hours", "passed": False, "detail": "inside"},
    ],
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    db = tmp_path / "var" / "plant" / "edgeloop.db"
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE decisions(id TEXT PRIMARY KEY, device TEXT, ts REAL, at REAL, score REAL, status TEXT, "
        "rule TEXT, record TEXT)"
    )
    old = {k: v for k, v in RECORD.items() if k != "guardrails"} | {"id": "d0"}
    for record in (RECORD, old):
        conn.execute(
            "INSERT INTO decisions VALUES (?, 'p1', 1, 2, 0.97, ?, 'wear', ?)",
            (record["id"], record["status"], json.dumps(record)),
        )
    conn.commit()
    conn.close()
    return tmp_path / "var"


def test_explain_prints_rule_status_reason_autonomy_and_checks(data_dir: Path) -> None:
    result = runner.invoke(policy_app, ["explain", "d1", "--data-dir", str(data_dir), "--site", "plant"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "rule:     wear" in lines
    assert "status:   blocked" in lines
    assert "reason:   guardrail quiet_hours: inside" in lines
    assert "autonomy: 3" in lines
    assert lines[-2:] == ["  ok   envelope: fits", "  FAIL quiet_hours: inside"]


def test_explain_says_when_a_record_has_no_guardrail_checks(data_dir: Path) -> None:
    result = runner.invoke(policy_app, ["explain", "d0", "--data-dir", str(data_dir), "--site", "plant"])

    assert result.exit_code == 0, result.output
    assert "guardrails: none stored in this record" in result.stdout


def test_explain_exits_1_for_an_unknown_decision(data_dir: Path) -> None:
    result = runner.invoke(policy_app, ["explain", "nope", "--data-dir", str(data_dir), "--site", "plant"])

    assert result.exit_code == 1
    assert "no decision 'nope'" in result.stderr


def test_explain_exits_2_without_a_store_and_does_not_create_one(tmp_path: Path) -> None:
    result = runner.invoke(policy_app, ["explain", "d1", "--data-dir", str(tmp_path), "--site", "plant"])

    assert result.exit_code == 2
    assert not (tmp_path / "plant").exists()


def test_explain_takes_site_and_data_dir_from_settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGELOOP_AGENT__DATA_DIR", str(data_dir))
    monkeypatch.setenv("EDGELOOP_AGENT__SITE", "plant")

    result = runner.invoke(policy_app, ["explain", "d1"])

    assert result.exit_code == 0, result.output
    assert "rule:     wear" in result.stdout
