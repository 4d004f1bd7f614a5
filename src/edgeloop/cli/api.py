"""`edgeloop api`, `edgeloop serve`, `edgeloop token ...` and `edgeloop user ...`: the site's REST API and who may
use it."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from edgeloop.agent.service import broker_url, open_agent
from edgeloop.api import tokens, users
from edgeloop.api.app import create_app
from edgeloop.api.serve import console_token, serve_api
from edgeloop.cli.agent import AutonomyOpt, BrokerOpt, ConfigOpt, DataDirOpt, StoreOpt, settings_overrides
from edgeloop.io.mqtt import shown_url
from edgeloop.io.signals import stop_on_signals
from edgeloop.io.store import OperatorStore, StoreError, open_operator_store
from edgeloop.settings import SettingsError, load_settings


def api(
    host: Annotated[str | None, typer.Option(help="listen address (default from settings: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default from settings: 8080)")] = None,
    site: Annotated[str | None, typer.Option("--site", help="site id")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="where site stores live")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="site settings YAML", exists=True)] = None,
    store: StoreOpt = None,
) -> None:
    """Serve the REST API for a site: decisions, approvals, verdicts, ROI, audit check. OpenAPI docs at /docs.

    Callers log in as a user (`edgeloop user create`) or send a bearer token (`edgeloop token create`, or
    `api.tokens` in the settings: token -> viewer | operator | admin).
    """
    console = Console(stderr=True)
    agent = {k: v for k, v in {"site": site, "data_dir": data_dir}.items() if v is not None}
    api_cfg = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    try:
        settings = load_settings(config, agent=agent, api=api_cfg, store={"url": store} if store else {})
    except SettingsError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if not settings.api.tokens:
        console.print("no api.tokens in the settings: callers need a token (edgeloop token create) or a user "
                      "(edgeloop user create) of this site")  # fmt: skip
    uvicorn.run(create_app(settings), host=settings.api.host, port=settings.api.port, log_level="info")


token_app = typer.Typer(help="API tokens for the site's REST API and dashboard (stored hashed).", no_args_is_help=True)


def _token_db(site: str | None, data_dir: Path | None) -> OperatorStore:
    agent = {k: v for k, v in {"site": site, "data_dir": data_dir}.items() if v is not None}
    return open_operator_store(load_settings(None, agent=agent))  # PostgreSQL when EDGELOOP_STORE__URL is set


SiteOpt = Annotated[str | None, typer.Option("--site", help="site id")]
DAY_S = 86_400.0


TtlOpt = Annotated[float, typer.Option("--ttl", help="days until the token expires", min=0.001)]


def _fail(message: str, code: int = 2) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin")],
    name: Annotated[str, typer.Option("--name", help="who or what it is for")] = "",
    ttl: TtlOpt = tokens.TTL_S / DAY_S,
    site: SiteOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Make a token that expires after --ttl days (90 unless told); it is printed once (only its SHA-256 is
    kept)."""
    try:
        token = tokens.create(_token_db(site, data_dir), role, name, time.time(), ttl * DAY_S)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    print(token)


@token_app.command("rotate")
def token_rotate(
    token_id: str,
    grace: Annotated[
        float, typer.Option("--grace", help="seconds the old token still works (0: retire it at once)", min=0)
    ] = tokens.ROTATE_GRACE_S,
    ttl: TtlOpt = tokens.TTL_S / DAY_S,
    site: SiteOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Make a new token for the role and name of a live one, printed once; the old one stops working after
    --grace seconds (a day unless told)."""
    token = tokens.rotate(_token_db(site, data_dir), token_id, time.time(), grace, ttl * DAY_S)
    if token is None:
        raise _fail(f"no live token {token_id!r}", 1)
    print(token)


def _when(at: float | None) -> str:
    return "never" if at is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(at))


@token_app.command("list")
def token_list(site: SiteOpt = None, data_dir: DataDirOpt = None) -> None:
    """Tokens by id, role, state, expiry (UTC) and name (never the tokens themselves)."""
    now = time.time()
    for t in tokens.listing(_token_db(site, data_dir)):
        expires = t["expires"]
        state = "revoked" if t["revoked"] else "expired" if expires is not None and expires <= now else "live"
        print(f"{t['id']}  {t['role']:<8}  {state:<7}  {_when(expires):<16}  {t['name']}")


@token_app.command("revoke")
def token_revoke(token_id: str, site: SiteOpt = None, data_dir: DataDirOpt = None) -> None:
    """Revoke a token by its id (the part after `el_`)."""
    if not tokens.revoke(_token_db(site, data_dir), token_id, time.time()):
        raise _fail(f"no live token {token_id!r}", 1)
    print(f"revoked {token_id}")


user_app = typer.Typer(help="Dashboard users who log in with a password (stored as its scrypt hash).",
                       no_args_is_help=True)  # fmt: skip


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="the name to log in with")],
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input (for scripts)")
    ] = False,
    site: SiteOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Make a user; the password is asked for twice (or read from stdin) and only its scrypt hash is kept."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        users.create_user(_token_db(site, data_dir), name, role, password, time.time())
    except users.UserError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    print(f"created {role} {name}")


@user_app.command("list")
def user_list(site: SiteOpt = None, data_dir: DataDirOpt = None) -> None:
    """Users by name and role."""
    for u in users.listing(_token_db(site, data_dir)):
        print(f"{u['name']:<24}  {u['role']}")


@user_app.command("delete")
def user_delete(name: str, site: SiteOpt = None, data_dir: DataDirOpt = None) -> None:
    """Delete a user; their dashboard sessions end at once."""
    if not users.delete_user(_token_db(site, data_dir), name):
        Console(stderr=True).print(f"[red]error:[/red] no user {name!r}")
        raise typer.Exit(1)
    print(f"deleted {name}")


def serve(
    broker: BrokerOpt = None,
    site: SiteOpt = None,
    config: ConfigOpt = None,
    autonomy: AutonomyOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[str | None, typer.Option(help="API listen address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="API port (default 8080; any free port if taken)")] = None,
    store: StoreOpt = None,
) -> None:
    """Run a site agent with its REST API and live dashboard in one process; prints the URL, and the admin
    token of the local console the first time (it is kept in the site's folder and reused after).

    Stops cleanly on Ctrl-C or SIGTERM. Settings as for `edgeloop agent` (--config, EDGELOOP_*, options).
    """
    console = Console(stderr=True)
    overrides = settings_overrides(broker, site, autonomy, data_dir, store)
    overrides["api"] = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    try:
        settings = load_settings(config, **overrides)
    except SettingsError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None

    async def main(url: str) -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with open_agent(settings, url) as agent:
            admin = console_token(settings, "edgeloop serve")
            async with serve_api(settings, "edgeloop serve", admin.token) as (web, _):
                where_url = shown_url(url)  # never the broker password
                console.print(f"site [bold]{settings.agent.site}[/bold] on {where_url}; dashboard [bold]{web}[/bold]")
                if admin.fresh:
                    console.print(f"admin token (kept in {admin.path}, reused at the next start): {admin.token}")
                else:
                    token_id = tokens.id_of(admin.token)
                    console.print(f"admin token: the one kept in {admin.path} (id {token_id}; revoke it and restart "
                                  "for a new one)")  # fmt: skip
                where = f"--site {settings.agent.site} --data-dir {settings.agent.data_dir}"
                console.print(f"users who log in with a password: edgeloop user create NAME --role operator {where}")
                stats = await agent.run(stop)
        console.print(f"stopped: {stats.as_dict()}")

    try:
        with broker_url(settings) as url:
            asyncio.run(main(url))
    except StoreError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
