"""Reading a site's ROI ledger back from the store its agent writes, as the settings place it.

The figures are made in `edgeloop.ledger.site_ledger`; `edgeloop roi report` (`edgeloop.cli.roi`), the API and
the demo all read through `read_site_ledger`.
"""

from __future__ import annotations

from edgeloop.io.store import NoStoreError, SqliteStore, open_operator_store
from edgeloop.ledger.fleet import fleet_ledger
from edgeloop.ledger.site_ledger import LedgerRows, ReportError, SiteLedger, site_ledger
from edgeloop.settings import Settings


def read_site_ledger(settings: Settings, since: str | None = None, n_boot: int = 2000) -> SiteLedger:
    """The site's ledger and report from `since` on; `ReportError` when there is no store or nothing to report."""
    cfg = settings.agent
    if settings.store.url:  # PostgreSQL: read as the API does, never as a second agent
        try:
            shared = open_operator_store(settings)
        except NoStoreError as exc:
            raise ReportError(f"{exc}: run the agent of site {cfg.site!r} first") from None
        try:
            rows = LedgerRows(shared.read_holdout(), shared.read_entries(), shared.read_days())
        finally:
            shared.close()
        return site_ledger(cfg.site, rows, settings.ledger.economics, since, n_boot)
    if not cfg.db_path.exists():
        raise ReportError(
            f"no store for site {cfg.site!r} at {cfg.db_path}: run the agent (or `edgeloop demo`) first, "
            "or point --data-dir/--site at it"
        )
    store = SqliteStore(cfg.db_path, cfg.site)
    try:
        rows = LedgerRows(store.read_holdout(), store.read_entries(), store.read_days())
    finally:
        store.close()
    return site_ledger(cfg.site, rows, settings.ledger.economics, since, n_boot)


def read_fleet_ledger(settings: Settings, since: str | None = None, n_boot: int = 2000) -> SiteLedger:
    """One report over every site in the shared PostgreSQL store (`edgeloop.ledger.fleet`): the treated and
    holdout arms summed across sites, one interval. `ReportError` without a shared store or a site with data."""
    if not settings.store.url:
        raise ReportError("a fleet report needs the sites' shared PostgreSQL store (store.url); a SQLite store "
                          "holds one site")  # fmt: skip
    from edgeloop.io.store.postgres import PgOperatorStore

    try:
        shared = PgOperatorStore.open(settings.store.url, settings.agent.site, check=False)
    except NoStoreError as exc:
        raise ReportError(str(exc)) from None
    try:
        rows = {}
        for site in shared.read_sites():
            one = shared.for_site(site)
            rows[site] = LedgerRows(one.read_holdout(), one.read_entries(), one.read_days())
    finally:
        shared.close()
    return fleet_ledger(rows, settings.ledger.economics, since, n_boot)
