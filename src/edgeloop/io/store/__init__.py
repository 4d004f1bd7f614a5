"""The site store: every table's schema, writes and reads, behind named functions.

`base.py` names what a store does (`AgentStore` for the site agent, `OperatorStore` for the API and the
command line, both reading through `StoreReads`); SQLite implements it: the schema in `schema.py`, the agent's
writer thread in `sqlite.py`, the operator's side and the API's pool in `operator.py`, and one module per table
or group of tables (`telemetry`, `devices`, `quarantine`, `decisions`, `approvals`, `ledger`, `state`,
`access`) holding its SQL. No SQL is written outside this package.
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
    "read_decision_at",
    "read_series",
]

if TYPE_CHECKING:  # mypy holds each SQLite class to the interface it implements

    def _conforms(
        agent: SqliteStore, operator: SqliteOperatorStore, pool: SqliteOperatorStores
    ) -> tuple[AgentStore, OperatorStore, OperatorStores]:
        return agent, operator, pool
