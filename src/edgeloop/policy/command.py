"""`edgeloop policy check|explain`: validate a policy file, or show why the agent decided what it did.

This file is the edge of `policy/`: it reads files and the agent's SQLite store (read-only); the rest of the
folder stays pure.

Exit codes: `check` 0 valid, 1 invalid (the field and YAML line are printed), 2 unreadable file; `explain`
0 shown, 1 no such decision, 2 no store to read.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Annotated, Any

import typer

from edgeloop.policy.load import PolicyError, parse_policy
from edgeloop.policy.schema import Policy
from edgeloop.settings import SettingsError, load_settings

DB_FILE = "edgeloop.db"  # inside <data_dir>/<site>, as the agent's store names it

policy_app = typer.Typer(
    help="Policy as code: check a policy file, explain a decision's rule, autonomy and guardrails.",
    no_args_is_help=True,
)


@policy_app.command()
def check(file: Annotated[Path, typer.Argument(dir_okay=False, help="the policy YAML file")]) -> None:
    """Validate a policy file; print its rules and autonomy levels, or the first error with its line."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        policy = parse_policy(text, str(file))
    except PolicyError as exc:
        typer.echo(f"ERROR: {exc}")
        raise typer.Exit(1) from exc
    typer.echo(f"OK: {summary(policy)}")


@policy_app.command()
def explain(
    decision_id: Annotated[str, typer.Argument(help="the decision's id")],
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", file_okay=False, help="default: agent.data_dir from settings")
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="default: agent.site from settings")] = None,
) -> None:
    """Show a stored decision's rule, status, reason, autonomy and every guardrail check."""
    db = _db_path(data_dir, site)
    if not db.is_file():
        typer.echo(f"no agent store at {db}", err=True)
        raise typer.Exit(2)
    try:
        record = read_decision(db, decision_id)
    except sqlite3.Error as exc:
        typer.echo(f"cannot read {db}: {exc}", err=True)
        raise typer.Exit(2) from exc
    if record is None:
        typer.echo(f"no decision {decision_id!r} in {db}", err=True)
        raise typer.Exit(1)
    for line in explain_lines(record):
        typer.echo(line)


def summary(policy: Policy) -> str:
    """One line: how many rules, and the autonomy levels.

    >>> summary(Policy.model_validate({"rules": [{"name": "r", "action": "stop"}],
    ...                                "autonomy": {"site": 1, "asset_types": {"pump": 3}, "actions": {"stop": 2}}}))
    '1 rule, autonomy site 1, asset types pump 3, actions stop 2'
    """
    autonomy = policy.autonomy
    n = len(policy.rules)
    parts = [f"{n} rule{'' if n == 1 else 's'}", f"autonomy site {int(autonomy.site)}"]
    if autonomy.asset_types:
        parts.append("asset types " + ", ".join(f"{k} {int(v)}" for k, v in autonomy.asset_types.items()))
    if autonomy.actions:
        parts.append("actions " + ", ".join(f"{k} {int(v)}" for k, v in autonomy.actions.items()))
    return ", ".join(parts)


def read_decision(db: Path, decision_id: str) -> dict[str, Any] | None:
    """The decision's JSON record, read with a read-only connection (never creates or changes the store)."""
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT record FROM decisions WHERE id = ?", (decision_id,)).fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    record = json.loads(row[0])
    return record if isinstance(record, dict) else {"record": record}


def explain_lines(record: dict[str, Any]) -> list[str]:
    """What `explain` prints for one decision record.

    >>> explain_lines({"id": "d1", "device": "p1", "rule": "r", "status": "blocked", "autonomy": 3, "reason": "x",
    ...                "guardrails": [{"name": "quiet_hours", "passed": False, "detail": "inside"}]})[-1]
    '  FAIL quiet_hours: inside'
    """
    lines = [
        f"decision {record.get('id', '?')} (device {record.get('device', '?')})",
        f"rule:     {record.get('rule') or '(no rule matched)'}",
        f"status:   {record.get('status', '?')}",
        f"reason:   {record.get('reason') or '(none recorded)'}",
        f"autonomy: {record.get('autonomy', '?')}",
    ]
    if record.get("on_delay_s"):
        lines.append(f"on-delay: raised after {record['on_delay_s']:g} s: operators called alarms like it false "
                     "and they went away on their own (edgeloop.learn.ondelay)")  # fmt: skip
    checks = record.get("guardrails")
    if not isinstance(checks, list):
        lines.append("guardrails: none stored in this record (decided before the policy engine stored them)")
        return lines
    lines.append("guardrails:" if checks else "guardrails: none evaluated")
    for check in checks:
        if not isinstance(check, dict):
            lines.append(f"  ???? {check!r}")
            continue
        mark = "ok  " if check.get("passed") else "FAIL"
        lines.append(f"  {mark} {check.get('name', '?')}: {check.get('detail', '')}")
    return lines


def _db_path(data_dir: Path | None, site: str | None) -> Path:
    if data_dir is None or site is None:
        try:
            agent = load_settings().agent
        except SettingsError as exc:
            raise typer.BadParameter(str(exc)) from exc
        data_dir, site = data_dir or agent.data_dir, site or agent.site
    return data_dir / site / DB_FILE
