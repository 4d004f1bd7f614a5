"""Verification of an audit log with nothing but its public key, reporting the first record that does not hold.

A line is *genuine* when it parses as a record, its hash matches its content (*intact*) and its signature verifies
with the public key (*authentic*). The chain holds when line i (0-based) is a genuine record with seq i whose
prev is the hash of line i-1 (`GENESIS` for line 0), and each checkpoint states the count and head before it.

At the first line where the chain breaks, the rest of the file tells which tampering it was:

- **changed**: the record there is authentic but not intact (its content was edited), or not authentic and the
  chain does not resume after it (it was edited and re-hashed, or replaced);
- **inserted**: the line is not genuine but the expected record follows it; or it is a genuine record already
  seen (a copy), or one from another chain; or it is a last line that fits the chain but is not signed by
  the key (a forged append, which an edited and re-hashed last record cannot be told from);
- **reordered**: the line is a genuine record from later in the chain and the expected record comes after it;
- **deleted**: the line is a genuine record from later in the chain and the expected record is nowhere.

Records cut from the *end* leave no gap; they are found against a checkpoint kept elsewhere (`expect_head`).
An unparseable last line without a newline is a torn write that opening the log will drop: it is reported
(`torn_tail`) but does not fail the verification.

>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> from edgeloop.audit.record import seal
>>> key = Ed25519PrivateKey.generate()
>>> a = seal(0, 1.0, "decision", {"d": 1}, GENESIS, key)
>>> b = seal(1, 2.0, "ack", {"d": 1}, a.hash, key)
>>> c = seal(2, 3.0, "verdict", {"d": 1}, b.hash, key)
>>> verify_lines([a.to_line(), b.to_line(), c.to_line()], key.public_key()).ok
True
>>> report = verify_lines([a.to_line(), c.to_line(), b.to_line()], key.public_key())
>>> report.ok, report.first_bad, report.tamper, report.problem
(False, 1, <Tamper.REORDERED: 'reordered'>, 'records out of order at line 2: seq 2 before 1 (reordered)')
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edgeloop.audit.record import GENESIS, Kind, Record, RecordError

#: how many lines after a bad one are searched for the record the chain expected there
LOOKAHEAD = 1000


class Tamper(StrEnum):
    CHANGED = "changed"
    DELETED = "deleted"
    REORDERED = "reordered"
    INSERTED = "inserted"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What verification found. `records` counts the records that verified, in order, checkpoints included.

    `first_bad` is the seq the chain expected at the first bad line, which is also that line's 0-based index
    (all lines before it verified); `first_bad_line` is the 1-based line number.
    """

    ok: bool
    records: int
    checkpoints: int
    head: str  # hash of the last record that verified (GENESIS when none did)
    first_bad: int | None = None
    tamper: Tamper | None = None
    problem: str = ""
    torn_tail: bool = False

    @property
    def first_bad_line(self) -> int | None:
        return None if self.first_bad is None else self.first_bad + 1

    def summary(self) -> str:
        counts = f"{self.records:,} records, {self.checkpoints:,} checkpoints"
        if not self.ok:
            return f"{counts} verified; FAILED: {self.problem}"
        torn = "; a torn last line is ignored (opening the log drops it)" if self.torn_tail else ""
        return f"{counts}, head {self.head[:16]}: OK{torn}"


@dataclass(frozen=True, slots=True)
class _Seen:
    record: Record | None
    reason: str  # why the line is not a record, when `record` is None
    intact: bool
    authentic: bool

    @property
    def genuine(self) -> bool:
        return self.record is not None and self.intact and self.authentic


def _see(line: bytes, public_key: Ed25519PublicKey) -> _Seen:
    try:
        record = Record.from_line(line)
    except RecordError as exc:
        return _Seen(None, exc.reason, False, False)
    return _Seen(record, "", record.intact(), record.signed_by(public_key))


def _checkpoint_holds(record: Record) -> bool:
    return record.kind != Kind.CHECKPOINT or dict(record.body) == {"records": record.seq, "head": record.prev}


@dataclass(slots=True)
class _Chain:
    count: int = 0
    head: str = GENESIS
    checkpoints: int = 0

    def broken(self, tamper: Tamper, problem: str, first_bad: int | None = None) -> VerifyReport:
        bad = self.count if first_bad is None else first_bad
        return VerifyReport(False, self.count, self.checkpoints, self.head, bad, tamper, problem)


def verify_lines(
    lines: Iterable[bytes], public_key: Ed25519PublicKey, expect_head: tuple[int, str] | None = None
) -> VerifyReport:
    """Verify lines as read from a log file (each ending in a newline, save perhaps a torn last one).

    `expect_head` is `(records, head)` from a checkpoint kept elsewhere: the log must hold at least that many
    records, and record `records - 1` must have hash `head`.
    """
    chain = _Chain()
    anchored = GENESIS if expect_head is not None and expect_head[0] == 0 else None
    rest = iter(lines)
    torn = False
    for line in rest:
        if not line:
            continue
        seen = _see(line, public_key)
        record = seen.record
        if (
            record is not None
            and seen.genuine
            and record.seq == chain.count
            and record.prev == chain.head
            and _checkpoint_holds(record)
        ):
            chain.count += 1
            chain.head = record.hash
            chain.checkpoints += record.kind == Kind.CHECKPOINT
            if expect_head is not None and chain.count == expect_head[0]:
                anchored = record.hash
            continue
        if record is None and not line.endswith(b"\n"):
            following = next(rest, None)
            if following is None:
                torn = True
                break
            rest = itertools.chain([following], rest)
        return _diagnose(chain, seen, rest, public_key)
    if expect_head is not None:
        records, head = expect_head
        if chain.count < records:
            return chain.broken(
                Tamper.DELETED,
                f"{_missing(chain.count, records - 1)}: the log ends after {chain.count} records "
                f"but the checkpoint vouches for {records} (deleted from the end)",
            )
        if anchored != head:
            return chain.broken(
                Tamper.CHANGED,
                f"record {records - 1} has hash {str(anchored)[:16]}…, the checkpoint says {head[:16]}… "
                "(the log was rewritten)",
                first_bad=records - 1,
            )
    return VerifyReport(True, chain.count, chain.checkpoints, chain.head, torn_tail=torn)


def verify_file(path: Path, public_key: Ed25519PublicKey, expect_head: tuple[int, str] | None = None) -> VerifyReport:
    """Verify the log file at `path` (the live `audit.jsonl` or an export)."""
    with path.open("rb") as f:
        return verify_lines(f, public_key, expect_head)


def _diagnose(chain: _Chain, seen: _Seen, rest: Iterator[bytes], public_key: Ed25519PublicKey) -> VerifyReport:
    """Name the tampering at the first bad line, looking at the lines after it."""
    n, line = chain.count, chain.count + 1
    record = seen.record
    if record is not None and seen.genuine:
        if record.seq == n and record.prev == chain.head:
            return chain.broken(
                Tamper.CHANGED,
                f"record {n} (line {line}) is a checkpoint that does not match the chain before it: "
                f"it says {dict(record.body)}",
            )
        if record.seq == n:
            return chain.broken(
                Tamper.INSERTED,
                f"line {line} is not part of the chain: it links to {record.prev[:16]}…, not to record {n - 1} "
                "(inserted from another chain)",
            )
        if record.seq < n:
            return chain.broken(
                Tamper.INSERTED,
                f"line {line} is not part of the chain: a second copy of record {record.seq} (inserted)",
            )
        later = _find(rest, lambda r: r.seq == n and r.prev == chain.head, public_key, limit=None)
        if later is not None:
            return chain.broken(
                Tamper.REORDERED, f"records out of order at line {line}: seq {record.seq} before {n} (reordered)"
            )
        return chain.broken(
            Tamper.DELETED,
            f"{_missing(n, record.seq - 1)}: expected seq {n} at line {line}, found {record.seq} (deleted)",
        )
    if record is None:
        why = f"it is not a valid record ({seen.reason})"
    elif seen.authentic:
        why = "its hash does not match its content"
    elif seen.intact:
        why = "its signature does not verify with this public key"
        if n == 0:
            why += " (the wrong public key, or a forged log)"
    else:
        why = "its hash does not match its content and its signature does not verify"
    following = next(rest, None)
    fits = record is not None and seen.intact and record.seq == n and record.prev == chain.head
    if following is None and fits:
        # a last record that fits the chain but is not ours: a forged append and an edited, re-hashed last
        # record look the same; the forged append is the likelier attack (a fake approval, say)
        return chain.broken(
            Tamper.INSERTED,
            f"line {line} is not part of the chain: {why}; nothing follows it "
            f"(inserted at the end, or record {n} was changed)",
        )
    resumes = None if following is None else _find(itertools.chain([following], rest), _any, public_key, LOOKAHEAD)
    if resumes is not None and resumes[1].seq == n and resumes[1].prev == chain.head:
        lines = f"line {line} is" if resumes[0] == 0 else f"lines {line} to {line + resumes[0]} are"
        return chain.broken(Tamper.INSERTED, f"{lines} not part of the chain: {why} (inserted)")
    return chain.broken(Tamper.CHANGED, f"record {n} (line {line}) was changed: {why}")


def _any(record: Record) -> bool:
    return True


def _missing(first: int, last: int) -> str:
    return f"record {first} is missing" if first == last else f"records {first} to {last} are missing"


def _find(
    rest: Iterator[bytes], wanted: Callable[[Record], bool], public_key: Ed25519PublicKey, limit: int | None
) -> tuple[int, Record] | None:
    """The first later genuine record that is `wanted`, with how many lines lie between; None if none is.

    Only wanted records have their signature checked, so a search through a long file is a parse per line.
    """
    for skipped, line in enumerate(rest if limit is None else itertools.islice(rest, limit)):
        try:
            record = Record.from_line(line)
        except RecordError:
            continue
        if wanted(record) and record.intact() and record.signed_by(public_key):
            return skipped, record
    return None
