"""The `edgeloop` command: one module per command group under `edgeloop.cli`; this file only wires them."""

from __future__ import annotations

import typer
from typer._click.core import Context
from typer.core import TyperOption

from edgeloop.cli.agent import agent
from edgeloop.cli.api import api, serve, token_app, user_app
from edgeloop.cli.approvals import approvals_app, verdict
from edgeloop.cli.audit import audit_app
from edgeloop.cli.bench import bench_app
from edgeloop.cli.broker import broker_app
from edgeloop.cli.decisions import decisions_app
from edgeloop.cli.gateway import gateway
from edgeloop.cli.knowledge import knowledge_app
from edgeloop.cli.policy import policy_app
from edgeloop.cli.roi import roi_app
from edgeloop.cli.sim import sim_app
from edgeloop.demo.site import demo

_type_of = TyperOption.display_type_rich


def _flag_type(self: TyperOption, ctx: Context) -> str | None:
    """A flag takes no value, so help shows none (typer shows `<bool>`, as if `--json true` were asked for)."""
    return None if self.is_bool_flag else _type_of(self, ctx)


TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

app = typer.Typer(
    name="edgeloop",
    help="Autonomous AIoT site agents that close the loop and prove their return.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(bench_app, name="bench")
app.add_typer(sim_app, name="sim")
app.add_typer(broker_app, name="broker")
app.add_typer(roi_app, name="roi")
app.command("demo")(demo)
app.command("agent")(agent)
app.command("gateway")(gateway)
app.command("api")(api)
app.command("serve")(serve)
app.add_typer(audit_app, name="audit")
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(approvals_app, name="approvals")
app.add_typer(decisions_app, name="decisions")
app.add_typer(policy_app, name="policy")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.command("verdict")(verdict)


def main() -> None:
    app()
