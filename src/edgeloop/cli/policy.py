"""`edgeloop policy check|explain`: validate a policy file, or show why the agent decided what it did.

The commands read files and the agent's SQLite store (read-only); what they print comes from the pure
`edgeloop.policy.describe`.

Exit codes: `check` 0 valid, 1 invalid (the field and YAML line are printed), 2 unreadable file; `explain`
0 shown, 1 no such decision, 2 no store to read.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from edgeloop.io.store import StoreError, open_operator_store, read_decision_at
from edgeloop.policy.describe import explain_lines, summary
from edgeloop.policy.load import PolicyError, parse_policy
from edgeloop.settings import SettingsError, load_settings

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
    db: Path | str = _db_path(data_dir, site)
    settings = load_settings(None, agent={k: v for k, v in {"data_dir": data_dir, "site": site}.items() if v})
    try:
        if settings.store.url:  # PostgreSQL (EDGELOOP_STORE__URL)
            db = f"the PostgreSQL store of site {settings.agent.site}"
            with contextlib.closing(open_operator_store(settings)) as store:
                record = store.read_decision(decision_id)
        elif not Path(db).is_file():
            typer.echo(f"no agent store at {db}", err=True)
            raise typer.Exit(2)
        else:
            record = read_decision_at(Path(db), decision_id)
    except StoreError as exc:
        typer.echo(f"cannot read {db}: {exc}", err=True)
        raise typer.Exit(2) from exc
    if record is None:
        typer.echo(f"no decision {decision_id!r} in {db}", err=True)
        raise typer.Exit(1)
    for line in explain_lines(record):
        typer.echo(line)


def _db_path(data_dir: Path | None, site: str | None) -> Path:
    """The agent's store as the settings name it (`agent.db_path`), with --data-dir and --site put in."""
    agent = {k: v for k, v in {"data_dir": data_dir, "site": site}.items() if v is not None}
    try:
        return load_settings(None, agent=agent).agent.db_path
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from exc
