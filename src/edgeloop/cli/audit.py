"""`edgeloop audit verify|export`: check the signed decision log, or copy it for someone to check offline.

Exit codes of `verify`: 0 the whole chain holds, 1 it does not (the first bad record is printed), 2 there is
nothing to check (no such log or key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from edgeloop.audit.directory import LOG_FILE, PUBLIC_KEY_FILE, AuditError
from edgeloop.audit.export import export
from edgeloop.audit.keys import load_public_key
from edgeloop.audit.verify import verify_file
from edgeloop.settings import SettingsError, load_settings

audit_app = typer.Typer(
    help="The signed, hash-chained decision log: verify it, export it for offline checks.", no_args_is_help=True
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", file_okay=False, help="where site stores live (default ./var); the log: <site>/audit"),
]
SiteOpt = Annotated[str | None, typer.Option("--site", help="site id (default from settings)")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="site settings YAML", exists=True)]


def log_dir(data_dir: Path | None = None, site: str | None = None, config: Path | None = None) -> Path:
    """`<data_dir>/<site>/audit`, as every command finds a site: options, then the settings file and environment."""
    agent = {k: v for k, v in {"site": site, "data_dir": data_dir}.items() if v is not None}
    try:
        return load_settings(config, agent=agent).agent.audit_dir
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from exc


def parse_expect(text: str) -> tuple[int, str]:
    """`RECORDS:HEAD` as a checkpoint states them.

    >>> parse_expect("100:" + "ab" * 32)[0]
    100
    """
    records, _, head = text.partition(":")
    if not records.isdigit() or len(head) != 64 or any(c not in "0123456789abcdef" for c in head):
        raise typer.BadParameter("expected RECORDS:HEAD, e.g. 100:<64 hex digits> from a checkpoint")
    return int(records), head


@audit_app.command()
def verify(
    data_dir: DataDirOpt = None,
    site: SiteOpt = None,
    config: ConfigOpt = None,
    file: Annotated[
        Path | None, typer.Option("--file", dir_okay=False, help="verify this log or export instead of the site's log")
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", dir_okay=False, help="PEM or raw key (default: the .pub file beside the log)"),
    ] = None,
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect", help="RECORDS:HEAD from a checkpoint kept elsewhere; catches records cut from the end"
        ),
    ] = None,
) -> None:
    """Verify every record's hash, signature and link, and the checkpoints; report the first bad record."""
    anchor = None if expect is None else parse_expect(expect)
    if file is not None:
        path = file
        key_path = public_key or file.with_suffix(".pub")
    else:
        base = log_dir(data_dir, site, config)
        path, key_path = base / LOG_FILE, public_key or base / PUBLIC_KEY_FILE
    if not path.is_file():
        errors.print(f"no audit log at {escape(str(path))}")
        raise typer.Exit(2)
    try:
        report = verify_file(path, load_public_key(key_path), anchor)
    except AuditError as exc:
        errors.print(escape(str(exc)))
        raise typer.Exit(2) from exc
    style = "green" if report.ok else "red"
    console.print(f"{escape(str(path))}: [{style}]{escape(report.summary())}[/{style}]")
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command("export")
def export_log(
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="the JSONL file to write; the key goes beside it")],
    data_dir: DataDirOpt = None,
    site: SiteOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write the log as JSONL plus its public key (OUT with suffix .pub), to be verified offline."""
    try:
        done = export(log_dir(data_dir, site, config), out)
    except AuditError as exc:
        errors.print(escape(str(exc)))
        raise typer.Exit(2) from exc
    console.print(
        f"wrote {done.records:,} records to {escape(str(done.path))}, public key {escape(str(done.public_key))}"
    )
    if done.skipped_bytes:
        console.print(f"left out a torn last line of {done.skipped_bytes} bytes (a write cut short by a crash)")
    console.print(
        f"verify offline with: edgeloop audit verify --file {escape(str(done.path))} "
        f"--public-key {escape(str(done.public_key))}"
    )
