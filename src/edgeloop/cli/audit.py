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
from edgeloop.audit.head import read_head
from edgeloop.audit.keys import load_public_key
from edgeloop.audit.record import Record
from edgeloop.audit.store_check import StoreReport, check_store
from edgeloop.audit.trust import TrustAnchor, default_pins_path, normal_fingerprint, pinned_key, trust_anchor
from edgeloop.audit.trust import fingerprint as fingerprint_of
from edgeloop.audit.verify import verify_file
from edgeloop.io.store import OperatorStore, SqliteOperatorStore, StoreError
from edgeloop.model import Partition, is_valid_id, store_key
from edgeloop.settings import AgentSettings, Settings, SettingsError, load_settings

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


def site_settings(data_dir: Path | None = None, site: str | None = None, config: Path | None = None) -> Settings:
    """The site's settings as every command finds a site: options, then the settings file and environment; its
    log is `<data_dir>/<site>/audit`."""
    agent = {k: v for k, v in {"site": site, "data_dir": data_dir}.items() if v is not None}
    try:
        return load_settings(config, agent=agent)
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


def anchor_for(log_dir: Path, key: Path | None, fingerprint: str | None, cfg: AgentSettings | None) -> TrustAnchor:
    """The trust anchor: --key, else --fingerprint, else the settings' fingerprint, else the pin (`audit.trust`)."""
    source = "the fingerprint given with --fingerprint"
    if key is None and fingerprint is None and cfg is not None and cfg.audit_fingerprint:
        fingerprint, source = cfg.audit_fingerprint, "the fingerprint in the settings (agent.audit_fingerprint)"
    pins = cfg.audit_pins if cfg is not None else None
    return trust_anchor(log_dir, key, fingerprint, pins, fingerprint_source=source)


@audit_app.command()
def verify(
    data_dir: DataDirOpt = None,
    site: SiteOpt = None,
    config: ConfigOpt = None,
    file: Annotated[
        Path | None, typer.Option("--file", dir_okay=False, help="verify this log or export instead of the site's log")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key", "--public-key", dir_okay=False, help="the PEM or raw public key to trust, obtained out of band"
        ),
    ] = None,
    fingerprint: Annotated[
        str | None,
        typer.Option("--fingerprint", help="trust the key beside the log only if its SHA-256 is this (64 hex)"),
    ] = None,
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect", help="RECORDS:HEAD from a checkpoint kept elsewhere; catches records cut from the end"
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            exists=True,
            dir_okay=False,
            help="a signed head kept earlier (the retained _agent/audit/head message, or GET /audit/head): "
            "its signature is checked and the log must still hold every record it states",
        ),
    ] = None,
    store: Annotated[
        bool,
        typer.Option(
            "--store",
            help="also check the site's store against the chain: every decision row and ledger entry must be "
            "what its audit record says (edited, deleted or added rows are found)",
        ),
    ] = False,
) -> None:
    """Verify every record's hash, signature and link, and the checkpoints; report the first bad record.

    The key is trusted from --key, --fingerprint, agent.audit_fingerprint or the pin made when the key was
    created, in that order; never from the audit.pub beside the log alone."""
    anchor = None if expect is None else parse_expect(expect)
    settings: Settings | None = None
    cfg: AgentSettings | None = None
    if file is None:
        settings = site_settings(data_dir, site, config)
        cfg = settings.agent
        path = cfg.audit_dir / LOG_FILE
    else:
        path = file
    log_dir = path.parent
    if not path.is_file():
        errors.print(f"no audit log at {escape(str(path))}")
        raise typer.Exit(2)
    try:
        if file is None:
            trust = anchor_for(log_dir, key, fingerprint, cfg)
        elif key is not None:
            trust = TrustAnchor(load_public_key(key), f"the key given in {key}")
        elif fingerprint is not None:
            trust = _export_anchor(file.with_suffix(".pub"), fingerprint)
        else:
            raise AuditError(f"give --key FILE or --fingerprint to verify {file}: a key beside it is not trusted alone")
        if checkpoint is not None:
            kept = read_head(checkpoint.read_bytes(), trust.key)
            anchor = (kept.records, kept.head)
            console.print(f"signed head of {escape(kept.site)}: {kept.records:,} records at {kept.ts:.0f}")
        report = verify_file(path, trust.key, anchor)
    except AuditError as exc:
        errors.print(escape(str(exc)))
        raise typer.Exit(2) from exc
    beside = log_dir / PUBLIC_KEY_FILE
    if file is None and beside.exists() and load_public_key(beside) != trust.key:
        errors.print(f"[red]warning:[/red] {escape(str(beside))} is not the trusted key: the key pair was replaced")
    style = "green" if report.ok else "red"
    console.print(f"trusted key {trust.fingerprint[:16]}... from {escape(trust.source)}")
    console.print(f"{escape(str(path))}: [{style}]{escape(report.summary())}[/{style}]")
    if not report.ok:
        raise typer.Exit(1)
    if store:
        checked = check_site_store(path, log_dir, settings or site_settings(data_dir, site, config))
        style = "green" if checked.ok else "red"
        console.print(f"[{style}]{escape(checked.summary())}[/{style}]")
        for problem in checked.problems:
            console.print(f"  {escape(problem)}")
        raise typer.Exit(0 if checked.ok else 1)
    raise typer.Exit(0)


def store_site_of(site_dir: Path) -> str:
    """The store key of a site's directory: the site, or `site--pIofP` for a partition's
    (`<data_dir>/<site>/pIofP`, `AgentSettings.store_site`)."""
    part = Partition.from_label(site_dir.name)
    if part is not None and part.count > 1 and is_valid_id(site_dir.parent.name):
        return store_key(site_dir.parent.name, part)
    return site_dir.name


def check_site_store(log: Path, log_dir: Path, settings: Settings) -> StoreReport:
    """The site's store against the (verified) log: the PostgreSQL store of the settings, or the SQLite file of
    the log's site directory (`<site>/edgeloop.db` beside `<site>/audit`)."""
    layout = log_dir.name == "audit" and is_valid_id(log_dir.resolve().parent.name)  # <data_dir>/<site>/audit
    site = store_site_of(log_dir.resolve().parent) if layout else settings.agent.store_site
    try:
        if settings.store.url:
            from edgeloop.io.store.postgres import PgOperatorStore

            opened: OperatorStore = PgOperatorStore.open(settings.store.url, site)
        else:
            db = log_dir.parent / "edgeloop.db"
            if not db.exists():
                errors.print(f"no store at {escape(str(db))}")
                raise typer.Exit(2)
            opened = SqliteOperatorStore.open(db, read_only=True)
        try:
            rows = opened.read_audited()
        finally:
            opened.close()
    except StoreError as exc:
        errors.print(escape(str(exc)))
        raise typer.Exit(2) from exc
    with log.open("rb") as f:
        records = [Record.from_line(line) for line in f if line.endswith(b"\n")]
    return check_store(records, rows.decisions, rows.ledger)


def _export_anchor(key_beside: Path, fingerprint: str) -> TrustAnchor:
    want = normal_fingerprint(fingerprint)
    public = load_public_key(key_beside)
    if fingerprint_of(public) != want:
        raise AuditError(f"the key {key_beside} does not match the fingerprint given", key_beside)
    return TrustAnchor(public, f"{key_beside}, matching the fingerprint given ({want[:16]}...)")


@audit_app.command("key")
def show_key(data_dir: DataDirOpt = None, site: SiteOpt = None, config: ConfigOpt = None) -> None:
    """Print the fingerprint of the log's public key and of the key pinned for it, to keep out of band."""
    cfg = site_settings(data_dir, site, config).agent
    log_dir = cfg.audit_dir
    try:
        beside = load_public_key(log_dir / PUBLIC_KEY_FILE)
        pins = cfg.audit_pins or default_pins_path()
        pinned = pinned_key(pins, log_dir)
    except AuditError as exc:
        errors.print(escape(str(exc)))
        raise typer.Exit(2) from exc
    console.print(f"{PUBLIC_KEY_FILE} beside the log: sha256:{fingerprint_of(beside)}")
    if pinned is None:
        console.print(f"pinned in {escape(str(pins))}: nothing")
    else:
        same = (
            "same key" if pinned == beside else "[red]A DIFFERENT KEY: the key pair beside the log was replaced[/red]"
        )
        console.print(f"pinned in {escape(str(pins))}: sha256:{fingerprint_of(pinned)} ({same})")


@audit_app.command("export")
def export_log(
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="the JSONL file to write; the key goes beside it")],
    data_dir: DataDirOpt = None,
    site: SiteOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write the log as JSONL plus its public key (OUT with suffix .pub), to be verified offline."""
    try:
        done = export(site_settings(data_dir, site, config).agent.audit_dir, out)
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
        f"--key {escape(str(done.public_key))} (better: a copy of the key obtained another way)"
    )
