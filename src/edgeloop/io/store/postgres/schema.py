"""The PostgreSQL store's tables, in versioned migrations, and telemetry's time partitions.

One database holds many sites: every table has a `site` column, first in its key, so a fleet's ledger,
decisions and audit trail can be queried together (`GROUP BY site`) and one set of migrations and partitions
serves all sites. `schema_version` holds one row per migration applied. The agent applies what is missing when
it starts (under an advisory lock, so agents of many sites starting together apply each migration once); a
schema newer than this code is refused, and the API never migrates: it refuses a schema older than the code.

Telemetry is a TimescaleDB hypertable with compression where that extension is available; otherwise a plain
table partitioned by range of `t0` (data time, unix seconds), one partition per UTC day, created by the
writer ahead of the data (the day of each batch and the day after).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from edgeloop.io.store.base import StoreError

log = logging.getLogger(__name__)

DAY_S = 86_400
LOCK = 0x6564_6765_6C6F  # the advisory lock that serialises migrations and partition creation ("edgelo")

_TABLES = """
CREATE TABLE runs(run bigserial PRIMARY KEY, site text NOT NULL, started double precision);
CREATE TABLE devices(site text, device text, asset_type text, meta text, updated double precision,
    PRIMARY KEY(site, device));
CREATE TABLE series(site text, run bigint, key bigint, device text, metric text, bucket bigint,
    PRIMARY KEY(site, run, key));
CREATE INDEX series_device ON series(site, device, metric);
CREATE TABLE quarantine(id bigserial PRIMARY KEY, site text NOT NULL, at double precision, topic text,
    device text, reason text, raw bytea);
CREATE TABLE decisions(site text, id text, device text, ts double precision, at double precision,
    score double precision, status text, rule text, record text, seq bigserial, PRIMARY KEY(site, id));
CREATE TABLE commands(site text, id text, decision text, device text, name text, args text,
    sent_at double precision, status text, acked_at double precision, detail text, PRIMARY KEY(site, id));
CREATE TABLE outcomes(id bigserial PRIMARY KEY, site text NOT NULL, device text, ts double precision,
    at double precision, kind text, decision text, detail text);
CREATE TABLE holdout(id bigserial PRIMARY KEY, site text NOT NULL, at double precision, devices bigint,
    record text);
CREATE TABLE ledger(site text, seq bigint, device text, asset_type text, arm text, ts double precision,
    day bigint, kind text, amount text, rule text, decision text, outcome text, action text,
    quantity double precision, note text, PRIMARY KEY(site, seq));
CREATE TABLE data_days(site text, day bigint, PRIMARY KEY(site, day));
CREATE TABLE approvals(site text, decision text, device text, command text, requested double precision,
    expires double precision, answer text, by text, why text, answered double precision,
    PRIMARY KEY(site, decision));
CREATE TABLE verdicts(id bigserial PRIMARY KEY, site text NOT NULL, decision text, device text, verdict text,
    by text, why text, at double precision);
CREATE TABLE site_policy(site text PRIMARY KEY, at double precision, source text, policy text);
CREATE TABLE shadow(site text NOT NULL, device text, asset_type text, learner text, ts double precision,
    at double precision, score double precision);
CREATE TABLE champions(site text, asset_type text, learner text, threshold double precision, sustain bigint,
    at double precision, PRIMARY KEY(site, asset_type));
CREATE TABLE guard_state(site text PRIMARY KEY, at double precision, state text);
CREATE TABLE learnt_state(site text, name text, at double precision, state text, PRIMARY KEY(site, name));
CREATE TABLE inbox(id bigserial PRIMARY KEY, site text NOT NULL, at double precision, kind text, decision text,
    answer text, by text, why text, taken double precision, result text);
CREATE TABLE api_tokens(site text, id text, sha256 text, role text, name text, created double precision,
    revoked double precision, PRIMARY KEY(site, id), UNIQUE(site, sha256));
CREATE TABLE api_users(site text, name text, role text, salt bytea, hash bytea, created double precision,
    PRIMARY KEY(site, name));
CREATE TABLE api_sessions(site text, sha256 text, "user" text, created double precision,
    expires double precision, PRIMARY KEY(site, sha256));
"""

_TELEMETRY = """CREATE TABLE telemetry(site text NOT NULL, run bigint, bucket bigint, t0 double precision NOT NULL,
    t1 double precision, n bigint, keys bytea, ts bytea, vals bytea, scores bytea, id bigserial)"""

#: TimescaleDB partitions on an integer or time column: t0 (float seconds) is mapped to whole seconds
_HYPERTABLE = """
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE FUNCTION edgeloop_seconds(double precision) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT floor($1)::bigint';
CREATE FUNCTION edgeloop_now_s() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT extract(epoch FROM now())::bigint';
SELECT create_hypertable('telemetry', 't0', chunk_time_interval => 86400,
    time_partitioning_func => 'edgeloop_seconds');
SELECT set_integer_now_func('telemetry', 'edgeloop_now_s');
ALTER TABLE telemetry SET (timescaledb.compress, timescaledb.compress_segmentby = 'site, run, bucket',
    timescaledb.compress_orderby = 't0');
SELECT add_compression_policy('telemetry', compress_after => 604800::bigint);
"""


def _v1_tables(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    timescale = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    conn.execute(_TABLES)
    if timescale:
        conn.execute(_TELEMETRY)
        conn.execute(_HYPERTABLE)
    else:
        conn.execute(_TELEMETRY + " PARTITION BY RANGE (t0)")
    conn.execute("CREATE INDEX telemetry_bucket_t0 ON telemetry(site, run, bucket, t0)")


def _v2_marks(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Indexes for the API's live feed (what was stored after a mark) and the fleet's ledger by day."""
    conn.execute("CREATE INDEX telemetry_site_id ON telemetry(site, id)")
    conn.execute("CREATE INDEX decisions_site_seq ON decisions(site, seq)")
    conn.execute("CREATE INDEX inbox_untaken ON inbox(site, id) WHERE taken IS NULL")
    conn.execute("CREATE INDEX ledger_site_day ON ledger(site, day)")


def _v3_token_expiry(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """API tokens expire (`edgeloop token create --ttl`); tokens made before keep working with no expiry."""
    conn.execute("ALTER TABLE api_tokens ADD COLUMN expires double precision")


def _v4_audit_hashes(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Each decision row and ledger entry carries the hash of its audit record (`edgeloop audit verify --store`)."""
    conn.execute("ALTER TABLE decisions ADD COLUMN audit text")
    conn.execute("ALTER TABLE ledger ADD COLUMN audit text")


def _v5_outbox(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """The durable outbox: QoS 1 messages written before they are published, marked sent on the broker's ack."""
    conn.execute(
        "CREATE TABLE outbox(site text NOT NULL, seq bigserial, id text, at double precision, topic text, "
        "payload bytea, qos integer, retain boolean, sent double precision, PRIMARY KEY(site, id))"
    )
    conn.execute("CREATE INDEX outbox_unsent ON outbox(site, seq) WHERE sent IS NULL")


Migration = Callable[[psycopg.Connection[tuple[Any, ...]]], None]
#: version n is MIGRATIONS[n - 1]; append, never edit one that was released
MIGRATIONS: list[tuple[str, Migration]] = [
    ("the site tables", _v1_tables),
    ("indexes of marks", _v2_marks),
    ("token expiry", _v3_token_expiry),
    ("audit hashes", _v4_audit_hashes),
    ("durable outbox", _v5_outbox),
]
VERSION = len(MIGRATIONS)


def where(url: str) -> str:
    """user@host:port/database of a URL, without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    user = f"{parts.username}@" if parts.username else ""
    return f"{user}{host}:{parts.port or 5432}{parts.path}"


def connect(url: str, autocommit: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection, or a `StoreError` that says why not (wrong password, unknown database, no server)."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        hint = ""
        if "password" in reason or "authentication" in reason:
            hint = " (check the user and password in --store / EDGELOOP_STORE__URL)"
        raise StoreError(f"cannot open the PostgreSQL store at {where(url)}: {reason}{hint}") from exc


def schema_version(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    """The newest migration applied (0 for a database edgeloop never used)."""
    if conn.execute("SELECT to_regclass('schema_version')").fetchone() == (None,):
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def too_new(found: int) -> StoreError:
    return StoreError(
        f"the PostgreSQL store's schema is version {found}, newer than this edgeloop's {VERSION}: "
        "upgrade edgeloop (a newer agent migrated it), never point an older one at it"
    )


def too_old(found: int) -> StoreError:
    return StoreError(
        f"the PostgreSQL store's schema is version {found}, older than this edgeloop's {VERSION}: start the "
        "site agent of this version once (it applies the migrations), then this"
    )


def migrate(conn: psycopg.Connection[tuple[Any, ...]], upto: int = VERSION) -> int:
    """Apply the migrations missing up to `upto`, each in its own transaction; the version it leaves."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version(version int PRIMARY KEY, applied double precision,"
                     " note text)")  # fmt: skip
    found = schema_version(conn)
    if found > VERSION:
        raise too_new(found)
    for version in range(found + 1, upto + 1):
        note, step = MIGRATIONS[version - 1]
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
            if schema_version(conn) >= version:  # another agent applied it while this one waited
                continue
            step(conn)
            conn.execute("INSERT INTO schema_version VALUES (%s, %s, %s)", (version, time.time(), note))
        log.info("store schema migrated to version %d (%s)", version, note)
    return max(found, upto)


def partitioned(conn: psycopg.Connection[tuple[Any, ...]]) -> bool:
    """Whether telemetry is a plain partitioned table (then the writer makes its partitions)."""
    row = conn.execute("SELECT relkind FROM pg_class WHERE oid = 'telemetry'::regclass").fetchone()
    return row is not None and row[0] == "p"


def add_partitions(conn: psycopg.Connection[tuple[Any, ...]], days: Iterable[int]) -> None:
    """Make the telemetry partitions of these UTC day indexes, in a short transaction of their own (creating a
    partition locks the parent table, so never inside a write of data)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
        for day in sorted(set(days)):
            name = sql.Identifier(f"telemetry_d{day}".replace("-", "m"))
            conn.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF telemetry FOR VALUES FROM ({}) TO ({})").format(
                    name, sql.Literal(float(day * DAY_S)), sql.Literal(float((day + 1) * DAY_S))
                )
            )


@contextlib.contextmanager
def scratch_schema(url: str, prefix: str = "edgeloop_scratch") -> Iterator[str]:
    """The URL with a new, empty schema first on its search path, and the schema dropped with all it holds on
    exit: a store of its own for a bench or a test run, in a database that may hold real sites."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with connect(url, autocommit=True) as admin:
        admin.execute("SET lock_timeout = '10s'")  # a store left open by a failed run must not hang the drop
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        try:
            yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
