"""`edgeloop approvals list|approve|reject` and `edgeloop verdict`: an operator's answers to the agent.

Answers go into the site store's inbox; the running agent takes them within a second, checks them (a pending
approval that has expired cannot be approved), logs them in the audit log and acts. These commands wait a few
seconds for the agent's result and print it; an answer given while the agent is down is taken when it starts.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from edgeloop.agent.approvals import VERDICTS
from edgeloop.io.store import OperatorStore, StoreError, answer_agent, open_operator_store
from edgeloop.settings import SettingsError, load_settings

approvals_app = typer.Typer(help="Decisions waiting for an operator's approval (autonomy 2).", no_args_is_help=True)
console = Console(stderr=True)

SiteOpt = Annotated[str | None, typer.Option("--site", help="site id (default from settings)")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="where site stores live (default ./var)")]
ByOpt = Annotated[str, typer.Option("--by", help="who answers (recorded in the audit log)")]
WhyOpt = Annotated[str, typer.Option("--why", help="why (recorded in the audit log)")]
WaitOpt = Annotated[float, typer.Option("--wait", min=0, help="seconds to wait for the agent's result")]


def _db(site: str | None, data_dir: Path | None) -> contextlib.closing[OperatorStore]:
    agent = {k: v for k, v in {"site": site, "data_dir": data_dir}.items() if v is not None}
    try:
        settings = load_settings(None, agent=agent)
    except SettingsError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    path = settings.agent.db_path
    if not settings.store.url and not path.exists():
        console.print(f"[red]error:[/red] no site store at {path}: is the agent running with this --data-dir/--site?")
        raise typer.Exit(2)
    try:  # PostgreSQL when EDGELOOP_STORE__URL is set
        return contextlib.closing(open_operator_store(settings))
    except StoreError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _submit(
    db: contextlib.closing[OperatorStore], kind: str, decision: str, answer: str, by: str, why: str, wait: float
) -> None:
    with db as store:
        result = answer_agent(store, kind, decision, answer, by, why, wait)
    if result is None:
        console.print("queued: the agent takes it when it next reads its inbox (is it running?)")
        return
    ok = not result.startswith("refused")
    console.print(f"{'[green]' if ok else '[red]'}{result}[/]")
    if not ok:
        raise typer.Exit(1)


@approvals_app.command("list")
def list_approvals(site: SiteOpt = None, data_dir: DataDirOpt = None, all_: bool = typer.Option(
        False, "--all", help="answered and expired ones too")) -> None:  # fmt: skip
    """Pending approvals, newest first, with the decision's device, score and command."""
    with _db(site, data_dir) as store:
        rows = store.read_approvals_with_scores(pending_only=not all_)  # the agent answers expired ones itself
    table = Table(title="approvals" if all_ else "pending approvals")
    for col in ("decision", "device", "score", "command", "requested", "expires", "answer"):
        table.add_column(col, overflow="fold")  # folded, never cropped: an id cut short cannot be approved
    for decision, device, score, doc, requested, expires, answer, by in rows:
        what = f"{doc['name']} " + " ".join(f"{k}={v:g}" for k, v in doc["args"].items())
        table.add_row(decision, device, f"{score:.3f}" if score is not None else "-", what,
                      _when(requested), _when(expires), f"{answer} by {by}" if answer else "pending")  # fmt: skip
    Console().print(table)


@approvals_app.command("approve")
def approve(
    decision: str, by: ByOpt, why: WhyOpt = "", site: SiteOpt = None, data_dir: DataDirOpt = None, wait: WaitOpt = 5.0
) -> None:
    """Approve a pending decision: the agent sends its command."""
    _submit(_db(site, data_dir), "approval", decision, "approved", by, why, wait)


@approvals_app.command("reject")
def reject(
    decision: str, by: ByOpt, why: WhyOpt = "", site: SiteOpt = None, data_dir: DataDirOpt = None, wait: WaitOpt = 5.0
) -> None:
    """Reject a pending decision: nothing is sent."""
    _submit(_db(site, data_dir), "approval", decision, "rejected", by, why, wait)


def verdict(
    decision: str,
    answer: Annotated[str, typer.Argument(help=f"one of: {', '.join(VERDICTS)}")],
    by: ByOpt,
    why: WhyOpt = "",
    site: SiteOpt = None,
    data_dir: DataDirOpt = None,
    wait: WaitOpt = 5.0,
) -> None:
    """Tell the agent whether a decision was right: true_fault, false_alarm or unsure; it learns from it.

    False alarms that go away on their own teach on-delays, others move thresholds (docs/operators.md).

    A failure or a maintenance finding outranks the verdict."""
    if answer not in VERDICTS:
        console.print(f"[red]error:[/red] verdict must be one of {', '.join(VERDICTS)}")
        raise typer.Exit(2)
    _submit(_db(site, data_dir), "verdict", decision, answer, by, why, wait)
