"""The site store on PostgreSQL: many sites in one database, the site a key of every table.

`PgStore` is the agent's (`AgentStore`), `PgOperatorStore` and `PgOperatorStores` the API's and the command
line's (`OperatorStore`, `OperatorStores`); `schema.py` holds the versioned migrations and telemetry's
partitions (or TimescaleDB hypertable).
"""

from edgeloop.io.store.postgres.operator import PgOperatorStore, PgOperatorStores
from edgeloop.io.store.postgres.schema import VERSION, migrate, schema_version
from edgeloop.io.store.postgres.store import PgStore

__all__ = ["VERSION", "PgOperatorStore", "PgOperatorStores", "PgStore", "migrate", "schema_version"]
