"""The site store: every table's schema, writes and reads, behind named functions.

`base.py` names what a store does (`AgentStore` for the site agent, `OperatorStore` for the API and the
command line, both reading through `StoreReads`); SQLite implements it: the schema in `schema.py`, the agent's
writer thread in `sqlite.py`, the operator's side and the API's pool in `operator.py`, and one module per table
or group of tables (`telemetry`, `devices`, `quarantine`, `decisions`, `approvals`, `ledger`, `state`,
`access`) holding its SQL. PostgreSQL implements the same interface over the same tables in `postgres/`, with
the site as a key of every table so that many sites share one database. `open_store` and its siblings pick the
back end the settings name (`store.url`). No SQL is written outside this package.
"""

from typing import TYPE_CHECKING

from edgeloop.io.store.base import (
    AgentStore,
    NoStoreError,
    OperatorStore,
    OperatorStores,
    StoreError,
    StoreReads,
)
from edgeloop.io.store.inbox import answer_agent
from edgeloop.io.store.operator import (
    Connection,
    SqliteOperatorStore,
    SqliteOperatorStores,
    as_operator_store,
    read_decision_at,
)
from edgeloop.io.store.schema import SCHEMA
from edgeloop.io.store.sqlite import SqliteStore, connect
from edgeloop.io.store.telemetry import BUCKET, Chunk, Series, SeriesNames, bucket_of, chunk_rows, read_series

__all__ = [
    "BUCKET",
    "SCHEMA",
    "AgentStore",
    "Chunk",
    "Connection",
    "NoStoreError",
    "OperatorStore",
    "OperatorStores",
    "Series",
    "SeriesNames",
    "SqliteOperatorStore",
    "SqliteOperatorStores",
    "SqliteStore",
    "StoreError",
    "StoreReads",
    "answer_agent",
    "as_operator_store",
    "bucket_of",
    "chunk_rows",
    "connect",
    "open_operator_store",
    "open_operator_stores",
    "open_store",
    "read_decision_at",
    "read_series",
]


def open_store(settings: "Settings") -> AgentStore:
    """The agent's store: PostgreSQL when `store.url` is set, else the SQLite file in the site's data directory.
    A PostgreSQL store that cannot be opened (wrong password, no server, a schema newer than this code) raises
    `StoreError` with the reason."""
    cfg = settings.agent
    if settings.store.url:
        from edgeloop.io.store.postgres import PgStore  # psycopg is loaded only when PostgreSQL is used

        return PgStore(settings.store.url, cfg.store_site, cfg.db_path)
    return SqliteStore(cfg.db_path, cfg.site)


def open_operator_stores(settings: "Settings") -> OperatorStores:
    """A server's operator stores on the back end the settings name."""
    if settings.store.url:
        from edgeloop.io.store.postgres import PgOperatorStores

        return PgOperatorStores(settings.store.url, settings.agent.store_site)
    return SqliteOperatorStores(settings.agent.db_path)


def open_operator_store(settings: "Settings") -> OperatorStore:
    """One operator store (close it when done) on the back end the settings name; a SQLite one is created if
    missing, a PostgreSQL one must have been opened by the site's agent first."""
    if settings.store.url:
        from edgeloop.io.store.postgres import PgOperatorStore

        return PgOperatorStore.open(settings.store.url, settings.agent.store_site)
    settings.agent.db_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteOperatorStore.open(settings.agent.db_path, timeout=30)


if TYPE_CHECKING:  # mypy holds each class to the interface it implements
    from edgeloop.io.store.postgres import PgOperatorStore, PgOperatorStores, PgStore
    from edgeloop.settings import Settings

    def _conforms(
        agent: SqliteStore, operator: SqliteOperatorStore, pool: SqliteOperatorStores
    ) -> tuple[AgentStore, OperatorStore, OperatorStores]:
        return agent, operator, pool

    def _conforms_pg(
        agent: PgStore, operator: PgOperatorStore, pool: PgOperatorStores
    ) -> tuple[AgentStore, OperatorStore, OperatorStores]:
        return agent, operator, pool
