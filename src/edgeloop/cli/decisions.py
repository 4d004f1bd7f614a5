"""`edgeloop decisions list|show`: what the agent decided and why, read from the site store.

`list` prints the newest decisions, one line each: data time, device, score, leading metric, status and the
action proposed (also when autonomy, a guardrail or the holdout held it back). `show ID` prints one decision
whole: the score and every metric's, the evidence (the leading metric's readings around it), the rule, each
guardrail checked, the reason, the command and its ack, and operators' verdicts.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from edgeloop.cli.approvals import DataDirOpt, SiteOpt, _db

decisions_app = typer.Typer(help="What the agent decided and why: list them, show one.", no_args_is_help=True)
EVIDENCE_S = 600.0  # the readings shown either side of a decision


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def proposed(record: dict[str, Any]) -> str:
    """The action a decision proposes: its command, or, when none was built, the rule's action it names."""
    action = record.get("action")
    if isinstance(action, dict) and action.get("name"):
        args = " ".join(f"{k}={v:g}" for k, v in (action.get("args") or {}).items())
        return f"{action['name']} {args}".strip()
    for check in record.get("guardrails") or []:
        if check.get("name") == "envelope":
            return str(check.get("detail", "")).split(" within ")[0].split(" outside ")[0]
    return "-"


def leading_metric(record: dict[str, Any]) -> str:
    evidence = record.get("evidence") or {}
    return max(evidence, key=lambda m: evidence[m]) if evidence else "-"


@decisions_app.command("list")
def list_decisions(
    site: SiteOpt = None,
    data_dir: DataDirOpt = None,
    device: Annotated[str | None, typer.Option("--device", help="only this device's")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="only this status (sent, held_out, blocked, pending_approval, ...)")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="how many, newest first")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="print the records as JSON lines")] = False,
) -> None:
    """The newest decisions: when (data time), device, score, leading metric, status, proposed action."""
    with _db(site, data_dir) as store:
        records = store.read_newest_decisions(limit, 0, device, status)
    if json_out:
        for r in records:
            sys.stdout.write(orjson.dumps(r).decode() + "\n")
        return
    table = Table(title="decisions, newest first (data time, UTC)", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("when", "device", "score", "metric", "status", "proposed action", "id"):
        table.add_column(col, overflow="fold")
    for r in records:
        when = datetime.fromtimestamp(float(r["ts"]), UTC).strftime("%m-%d %H:%M")
        table.add_row(when, str(r["device"]), f"{float(r['score']):.2f}", leading_metric(r), str(r["status"]),
                      proposed(r).split(" ")[0], str(r["id"])[:8])  # fmt: skip
    Console().print(table)


@decisions_app.command("show")
def show(
    decision: Annotated[str, typer.Argument(help="the decision's id (or its first 8 characters, as listed)")],
    site: SiteOpt = None,
    data_dir: DataDirOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """One decision whole: score, metrics, evidence, rule, guardrails, reason, command and ack, verdicts."""
    with _db(site, data_dir) as store:
        record = store.read_decision(decision) or _by_prefix(store, decision)
        if record is None:
            Console(stderr=True).print(f"[red]error:[/red] no decision {decision!r}")
            raise typer.Exit(2)
        ts, metric = float(record["ts"]), leading_metric(record)
        times, values, scores = store.read_series(str(record["device"]), metric, ts - EVIDENCE_S, ts + EVIDENCE_S)
        commands = store.read_commands_of(str(record["id"]))
        verdicts = store.read_verdicts_of(str(record["id"]))
    readings = [[float(t), float(v), float(s)] for t, v, s in zip(times, values, scores, strict=True)]
    if json_out:
        body = {**record, "readings": {"metric": metric, "points": readings}, "commands": commands,
                "verdicts": verdicts}  # fmt: skip
        sys.stdout.write(orjson.dumps(body).decode() + "\n")
        return
    out = Console()
    head = Table(title=f"decision {record['id']}", show_header=False)
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    for label, value in (
        ("when (data time)", _when(ts)),
        ("device", f"{record['device']} ({record.get('asset_type', '-')})"),
        ("score", f"{float(record['score']):.3f} (model {record.get('model', '-')})"),
        (
            "metrics",
            ", ".join(
                f"{m} {s:.3f}" for m, s in sorted((record.get("evidence") or {}).items(), key=lambda kv: -float(kv[1]))
            ),
        ),
        ("rule", str(record.get("rule", "-"))),
        ("autonomy", str(record.get("autonomy", "-"))),
        ("status", str(record["status"])),
        ("proposed action", proposed(record)),
        ("reason", str(record.get("reason", ""))),
    ):
        head.add_row(label, value)
    out.print(head)
    checks = Table(title="guardrails checked")
    for col in ("guardrail", "passed", "detail"):
        checks.add_column(col, overflow="fold")
    for c in record.get("guardrails") or []:
        checks.add_row(str(c.get("name")), "yes" if c.get("passed") else "[red]no[/red]", str(c.get("detail", "")))
    out.print(checks)
    evidence = Table(title=f"evidence: {metric} within {EVIDENCE_S / 60:g} min (time, value, score)")
    for col in ("time", "value", "score"):
        evidence.add_column(col, justify="right")
    for t, v, s in readings:
        score = "- (came late: not scored)" if math.isnan(s) else f"{s:.3f}"
        evidence.add_row(datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S"), f"{v:g}", score)
    out.print(evidence if readings else "no stored readings around it (agent.store_telemetry off?)")
    for c in commands:
        out.print(f"command: {orjson.dumps(c).decode()}")
    for answer in verdicts:
        out.print(f"verdict: {orjson.dumps(answer).decode()}")


def _by_prefix(store: Any, prefix: str) -> dict[str, Any] | None:
    """A decision named by the start of its id, as `list` shows it: the newest with that prefix."""
    if len(prefix) < 6:
        return None
    for r in store.read_newest_decisions(5000, 0, None, None):
        if str(r["id"]).startswith(prefix):
            return dict(r)
    return None
