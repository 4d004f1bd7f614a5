"""The `edgeloop` command. Each sub-command lives beside the part it drives; this file only wires them."""

from __future__ import annotations

import typer

from edgeloop.agent.command import agent
from edgeloop.bench.throughput import throughput
from edgeloop.demo import demo
from edgeloop.sim.command import factory

app = typer.Typer(
    name="edgeloop",
    help="Autonomous AIoT site agents that close the loop and prove their return.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks that print figures (throughput, NAB accuracy, ...).", no_args_is_help=True)
sim_app = typer.Typer(help="Device simulators that speak the real protocols.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(sim_app, name="sim")
app.command("demo")(demo)
app.command("agent")(agent)
sim_app.command("factory")(factory)
bench_app.command("throughput")(throughput)

# -- sub-commands register below, one line each --------------------------------------------------------------
# [bench nab]
# [audit]


def main() -> None:
    app()
