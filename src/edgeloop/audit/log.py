"""The append-only audit log: one signed, hash-chained record per line of `audit.jsonl`.

Durability: each `append` (or each `append_many` batch) is one `write` of whole lines and one `fsync`; it returns
only once the records are on disk. A checkpoint record follows automatically whenever the next sequence number is a
positive multiple of `checkpoint_every`.

Crash recovery: a process killed mid-write leaves at most one incomplete last line, which was never
acknowledged. Opening the log cuts the file back to its last newline, checks that the last complete record is
intact and signed by this key, and appends a `recovery` record naming how many bytes were dropped (and their
SHA-256), so the cut is itself on the record. A log whose last complete record does not verify is not
extended: it is refused with `AuditError`.

Only one process may hold a log open (an exclusive `flock`); within a process the methods are thread-safe.

>>> import tempfile
>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> directory, key = Path(tempfile.mkdtemp()), Ed25519PrivateKey.generate()
>>> with AuditLog.open(directory, key, checkpoint_every=3) as log:
...     first = log.append("decision", {"device": "pump-1", "score": 0.97}, ts=10.0)
...     batch = log.append_many([("command", {"name": "stop"}), ("ack", {"status": "done"}, 12.0)])
>>> [(r.seq, r.kind) for r in [first, *batch]]
[(0, 'decision'), (1, 'command'), (2, 'ack')]
>>> batch[0].prev == first.hash
True
>>> [Record.from_line(line).kind for line in (directory / LOG_FILE).read_bytes().splitlines()]
['decision', 'command', 'ack', 'checkpoint']
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeloop.audit.directory import LOG_FILE, AuditError, fsync_dir
from edgeloop.audit.record import GENESIS, KIND_PATTERN, RESERVED, Kind, Record, RecordError, plain_body, seal

#: what `append_many` takes: (kind, body) or (kind, body, ts); a missing or None ts is the clock's time
Item = tuple[str, Mapping[str, Any]] | tuple[str, Mapping[str, Any], float | None]
_Draft = tuple[str, dict[str, Any], float]


class AuditLog:
    """The log in `directory/audit.jsonl`, extended with `key`. Open it with `AuditLog.open` (or the constructor).

    `recovered_bytes` is how many bytes of a torn last line opening dropped (0 after a clean shutdown).
    """

    def __init__(
        self,
        directory: Path,
        key: Ed25519PrivateKey,
        checkpoint_every: int = 100,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be at least 1, not {checkpoint_every}")
        self.directory = directory
        self.key = key
        self.checkpoint_every = checkpoint_every
        self.clock = clock
        self.path = directory / LOG_FILE
        self.recovered_bytes = 0
        self._dropped_sha256 = ""
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        self._seq = 0  # the next record's seq: also the number of records in the log
        self._head = GENESIS  # the last record's hash
        self._last_kind: str | None = None
        self._open()

    @classmethod
    def open(
        cls,
        directory: Path,
        key: Ed25519PrivateKey,
        checkpoint_every: int = 100,
        clock: Callable[[], float] = time.time,
    ) -> Self:
        """Open (or create) the log, recovering from a torn last line."""
        return cls(directory, key, checkpoint_every, clock)

    @property
    def records(self) -> int:
        """How many records the log holds (checkpoints included); the next record's seq."""
        return self._seq

    @property
    def head(self) -> str:
        """The hash of the last record (`GENESIS` for an empty log)."""
        return self._head

    def state(self) -> tuple[int, str]:
        """`(records, head)` read together, as one consistent pair (what a signed head states)."""
        with self._lock:
            return self._seq, self._head

    def append(self, kind: str, body: Mapping[str, Any], ts: float | None = None) -> Record:
        """Append one record and fsync it. `ts` defaults to the clock's time (unix seconds)."""
        return self.append_many([(kind, body, ts)])[0]

    def append_many(self, items: Iterable[Item]) -> list[Record]:
        """Append records with one write and one fsync; return them in order (without the checkpoints).

        Every item is checked before any is written: a bad one raises `AuditError` and writes nothing.
        """
        drafts = [self._draft(item) for item in items]
        with self._lock:
            fd = self._require_open()
            written: list[Record] = []
            mine: list[Record] = []
            for kind, body, ts in drafts:
                self._checkpoint_if_due(written, ts)
                mine.append(self._seal_onto(written, kind, body, ts))
                self._checkpoint_if_due(written, ts)
            self._commit(fd, written)
            return mine

    def checkpoint(self, ts: float | None = None) -> Record:
        """Append a checkpoint now (e.g. before publishing the head somewhere else)."""
        with self._lock:
            fd = self._require_open()
            written: list[Record] = []
            at = self.clock() if ts is None else _finite(ts)
            record = self._seal_onto(written, Kind.CHECKPOINT, {"records": self._seq, "head": self._head}, at)
            self._commit(fd, written)
            return record

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------------------------

    def _draft(self, item: Item) -> _Draft:
        kind, body, *rest = item
        ts = rest[0] if rest else None
        if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
            raise AuditError(f"kind must match {KIND_PATTERN.pattern}, not {kind!r}", self.path)
        if kind in RESERVED:
            raise AuditError(f"kind {kind!r} is written by the log itself", self.path)
        if not isinstance(body, Mapping):
            raise AuditError(f"body must be a mapping, not {type(body).__name__}", self.path)
        try:
            plain = plain_body(body)
        except TypeError as exc:
            raise AuditError(f"body of a {kind!r} record is not JSON data: {exc}", self.path) from exc
        return kind, plain, self.clock() if ts is None else _finite(ts)

    def _seal_onto(self, written: list[Record], kind: str, body: Mapping[str, Any], ts: float) -> Record:
        """Seal the record that follows the log's head and whatever `written` already holds."""
        seq = self._seq + len(written)
        prev = written[-1].hash if written else self._head
        record = seal(seq, ts, str(kind), body, prev, self.key)
        written.append(record)
        return record

    def _checkpoint_if_due(self, written: list[Record], ts: float) -> None:
        seq = self._seq + len(written)
        last_kind = written[-1].kind if written else self._last_kind
        if seq > 0 and seq % self.checkpoint_every == 0 and last_kind != Kind.CHECKPOINT:
            head = written[-1].hash if written else self._head
            self._seal_onto(written, Kind.CHECKPOINT, {"records": seq, "head": head}, ts)

    def _commit(self, fd: int, records: list[Record]) -> None:
        """Write whole lines and fsync; on failure cut the file back so the chain on disk stays whole."""
        if not records:
            return
        payload = b"".join(r.to_line() for r in records)
        data = memoryview(payload)
        start = self._size
        try:
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, start)
                os.fsync(fd)
            except OSError:
                os.close(fd)  # the file may end in a part line: reopening recovers it
                self._fd = None
            raise AuditError(f"cannot write {self.path}: {exc}", self.path) from exc
        self._size = start + len(payload)
        self._seq += len(records)
        self._head = records[-1].hash
        self._last_kind = records[-1].kind

    def _require_open(self) -> int:
        if self._fd is None:
            raise AuditError(f"the audit log {self.path} is closed", self.path)
        return self._fd

    # -- opening ----------------------------------------------------------------------------------------------

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AuditError(f"the audit log {self.path} is open in another process", self.path) from None
        try:
            if created:
                fsync_dir(self.directory)
            self._recover(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if self.recovered_bytes:
            try:
                self._commit(fd, self._recovery_record())
            except BaseException:
                self.close()
                raise

    def _recover(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        end, last = last_line(fd, size)
        if last:
            try:
                record = Record.from_line(last)
            except RecordError as exc:
                raise AuditError(f"the last record of {self.path} is not valid ({exc}); not extending it") from exc
            if not record.intact() or not record.signed_by(self.key.public_key()):
                raise AuditError(
                    f"the last record of {self.path} (seq {record.seq}) does not verify with this key; "
                    "not extending it (run `edgeloop audit verify`)",
                    self.path,
                )
            self._seq, self._head, self._last_kind = record.seq + 1, record.hash, record.kind
        if end < size:
            self._dropped_sha256 = hashlib.sha256(os.pread(fd, size - end, end)).hexdigest()
            os.ftruncate(fd, end)
            os.fsync(fd)
            self.recovered_bytes = size - end
        self._size = end

    def _recovery_record(self) -> list[Record]:
        written: list[Record] = []
        body = {"dropped_bytes": self.recovered_bytes, "dropped_sha256": self._dropped_sha256}
        at = self.clock()
        self._checkpoint_if_due(written, at)
        self._seal_onto(written, Kind.RECOVERY, body, at)
        self._checkpoint_if_due(written, at)
        return written


def last_line(fd: int, size: int, block: int = 1 << 16) -> tuple[int, bytes]:
    """The offset just past the file's last newline, and the complete line that newline ends (b'' if none).

    Reads backwards from `size` in blocks, so opening a long log costs a read or two.
    """
    pos = size
    end: int | None = None
    parts: list[bytes] = []  # the last line's blocks, last first
    while pos > 0:
        step = min(block, pos)
        pos -= step
        chunk = os.pread(fd, step, pos)
        if end is None:
            newline = chunk.rfind(b"\n")
            if newline < 0:
                continue  # still inside a torn tail
            end = pos + newline + 1
            chunk = chunk[:newline]
        start = chunk.rfind(b"\n")
        if start >= 0:
            return end, b"".join([chunk[start + 1 :], *reversed(parts)]) + b"\n"
        parts.append(chunk)
    if end is None:
        return 0, b""
    return end, b"".join(reversed(parts)) + b"\n"


def _finite(ts: float) -> float:
    value = float(ts)
    if not math.isfinite(value):
        raise AuditError(f"ts must be a finite number of unix seconds, not {ts!r}")
    return value
