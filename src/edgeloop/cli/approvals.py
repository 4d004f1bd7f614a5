"""`edgeloop approvals list|approve|reject` and `edgeloop verdict`: an operator's answers to the agent.

`list` shows what an operator needs to judge each approval: the decision's score and leading metrics, the
proposed command, the rule, and its state (pending until when, or approved/rejected by whom, or expired and why).
Answers (with a `--why` that goes into the audit log) go into the site store's inbox; the running agent takes them
within a second, checks them, logs them in the audit log and acts. An approval already answered or expired (its
device failed, was repaired or went under maintenance, or no one answered in time) is refused at once, with the
reason. These commands wait a few seconds for the agent's result and print it; an answer given while the agent is
down is taken when it starts.
"""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from edgeloop.agent.approvals import VERDICTS
from edgeloop.io.store import OperatorStore, StoreError, answer_agent, open_operator_store
from edgeloop.policy.expiry import refusal, state_of
from edgeloop.settings import SettingsError, load_settings

approvals_app = typer.Typer(help="Decisions waiting for an operator's approval (autonomy 2).", no_args_is_help=True)
console = Console(stderr=True)

SiteOpt = Annotated[str | None, typer.Option("--site", help="site id (default from settings)")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="where site stores live (default ./var)")]
ByOpt = Annotated[str, typer.Option("--by", help="who answers (recorded in the audit log)")]
WhyOpt = Annotated[str, typer.Option("--why", help="why you answer so, in your words (kept in the audit log)")]
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
        if kind == "approval":
            approval = store.read_approval(decision) or _by_prefix(store, decision)
            if approval is None or approval["answer"] is not None:  # closed: say why, queue nothing
                console.print(f"[red]{refusal(approval)}[/]")
                raise typer.Exit(1)
            decision = str(approval["decision"])
        result = answer_agent(store, kind, decision, answer, by, why, wait)
    if result is None:
        console.print("queued: the agent takes it when it next reads its inbox (is it running?)")
        return
    ok = not result.startswith("refused")
    console.print(f"{'[green]' if ok else '[red]'}{result}[/]")
    if not ok:
        raise typer.Exit(1)


#: how many of the newest approvals a shortened id is looked for among
PREFIX_SCAN = 5000


def _by_prefix(store: OperatorStore, prefix: str) -> dict[str, Any] | None:
    """An approval named by the start of its decision's id, as `list` shows it (at least 6 characters); None when
    none starts so; exits with the reason when the start is too short or names more than one."""
    if len(prefix) < 6:
        console.print(f"[red]error:[/red] no decision has the id {prefix!r}; a shortened id needs at least 6 "
                      "characters (`approvals list` shows 8)")  # fmt: skip
        raise typer.Exit(1)
    found = [a for a in store.read_approvals(False, PREFIX_SCAN, 0) if str(a["decision"]).startswith(prefix)]
    if len(found) > 1:
        some = ", ".join(str(a["decision"])[: len(prefix) + 4] for a in found[:3])
        console.print(f"[red]error:[/red] {len(found)} approvals start with {prefix!r} ({some}"
                      f"{', ...' if len(found) > 3 else ''}): give more of the id")  # fmt: skip
        raise typer.Exit(1)
    return found[0] if found else None


def state_text(approval: dict[str, Any]) -> str:
    """`pending until <expiry>`, `expired: <reason>`, or `<answer> by <who>: <why>`."""
    state = state_of(approval)
    if state == "pending":
        return f"pending until {_when(float(approval['expires']))[5:16]}"
    if state == "expired":
        return f"expired: {approval.get('why') or '-'}"
    why = approval.get("why")
    return f"{state} by {approval.get('by') or '-'}" + (f": {why}" if why else "")


def command_text(command: dict[str, Any]) -> str:
    return f"{command['name']} " + " ".join(f"{k}={v:g}" for k, v in command["args"].items())


@approvals_app.command("list")
def list_approvals(
    site: SiteOpt = None,
    data_dir: DataDirOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="answered and expired ones too")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="how many, newest first")] = 50,
    json_out: Annotated[bool, typer.Option("--json", help="print the approvals as JSON lines")] = False,
) -> None:
    """Pending approvals, newest first: decision id (its first 8 characters, enough to answer it), device, score,
    leading metrics, proposed command and rule, and state."""
    with _db(site, data_dir) as store:
        items = store.read_approvals(not all_, limit, 0)  # the agent expires approvals itself
    if json_out:
        for item in items:
            sys.stdout.write(orjson.dumps({**item, "state": state_of(item)}).decode() + "\n")
        return
    table = Table(title="approvals" if all_ else "pending approvals", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id, device", overflow="fold")  # the id's 8 characters are enough to answer it by
    table.add_column("score, metrics", overflow="fold")
    table.add_column("proposed command, rule", overflow="fold", min_width=20)  # a command's name stays whole
    table.add_column("state", overflow="fold")  # cells wrap to fit 80 columns, never cropped
    for a in items:
        score = "-" if a["score"] is None else f"{float(a['score']):.2f}"
        metrics = [f"{m} {s:.2f}" for m, s in list(a["metrics"].items())[:3]]
        table.add_row(f"{str(a['decision'])[:8]}\n{a['device']}", "\n".join([score, *metrics]),
                      f"{command_text(a['command'])}\nrule {a['rule'] or '-'}", state_text(a))  # fmt: skip
    Console().print(table)


@approvals_app.command("approve")
def approve(
    decision: str, by: ByOpt, why: WhyOpt = "", site: SiteOpt = None, data_dir: DataDirOpt = None, wait: WaitOpt = 5.0
) -> None:
    """Approve a pending decision (its id, or the first 8 characters `list` shows): the agent sends its command."""
    _submit(_db(site, data_dir), "approval", decision, "approved", by, why, wait)


@approvals_app.command("reject")
def reject(
    decision: str, by: ByOpt, why: WhyOpt = "", site: SiteOpt = None, data_dir: DataDirOpt = None, wait: WaitOpt = 5.0
) -> None:
    """Reject a pending decision (its id, or the first 8 characters `list` shows): nothing is sent."""
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
