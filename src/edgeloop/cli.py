"""The `edgeloop` command. Each sub-command lives beside the part it drives; this file only wires them."""

from __future__ import annotations

import typer

from edgeloop.agent.answers import approvals_app, verdict
from edgeloop.agent.command import agent
from edgeloop.agent.roi import report as roi_report
from edgeloop.api.command import api, serve, token_app, user_app
from edgeloop.audit.command import audit_app
from edgeloop.bench.coldstart import coldstart as bench_coldstart
from edgeloop.bench.feedback import feedback as bench_feedback
from edgeloop.bench.nab.command import nab as bench_nab
from edgeloop.bench.powercap import powercap as bench_powercap
from edgeloop.bench.roi import roi as bench_roi
from edgeloop.bench.select import select as bench_select
from edgeloop.bench.throughput import throughput
from edgeloop.demo import demo
from edgeloop.fleet.command import knowledge_app
from edgeloop.policy.command import policy_app
from edgeloop.sim.command import building, depot, factory
from edgeloop.sim.record import record as sim_record

app = typer.Typer(
    name="edgeloop",
    help="Autonomous AIoT site agents that close the loop and prove their return.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks that print figures (throughput, NAB accuracy, ...).", no_args_is_help=True)
roi_app = typer.Typer(help="The ROI ledger: what the agent earned, measured against the holdout.", no_args_is_help=True)
sim_app = typer.Typer(help="Device simulators that speak the real protocols.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(sim_app, name="sim")
app.add_typer(roi_app, name="roi")
roi_app.command("report")(roi_report)
app.command("demo")(demo)
app.command("agent")(agent)
app.command("api")(api)
app.command("serve")(serve)
sim_app.command("factory")(factory)
sim_app.command("building")(building)
sim_app.command("depot")(depot)
bench_app.command("throughput")(throughput)
bench_app.command("roi")(bench_roi)
bench_app.command("feedback")(bench_feedback)
bench_app.command("nab")(bench_nab)
bench_app.command("powercap")(bench_powercap)
bench_app.command("select")(bench_select)
sim_app.command("record")(sim_record)
bench_app.command("coldstart")(bench_coldstart)

# -- sub-commands register below, one line each --------------------------------------------------------------
app.add_typer(audit_app, name="audit")
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(approvals_app, name="approvals")
app.add_typer(policy_app, name="policy")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.command("verdict")(verdict)


def main() -> None:
    app()
