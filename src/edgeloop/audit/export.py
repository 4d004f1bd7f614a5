"""Export: a copy of the log that anyone can verify offline with the public key alone.

`export(directory, out)` writes two files: `out`, the log's complete lines byte for byte (the same JSONL format as
`audit.jsonl`, no header), and `out` with the suffix `.pub`, the PEM public key. A torn last line (a write
cut short by a crash, never acknowledged) is left out. Nothing is re-signed: a tampered log exports as a file
that fails verification just the same. The public key inside the export is a convenience; an auditor should
compare it with a copy obtained another way.

>>> import tempfile
>>> from edgeloop.audit import AuditLog, load_or_create_key, load_public_key, verify_file
>>> directory = Path(tempfile.mkdtemp())
>>> with AuditLog.open(directory, load_or_create_key(directory)) as log:
...     _ = log.append("policy", {"autonomy": 1}, ts=0.0)
>>> done = export(directory, directory / "out" / "site.jsonl")
>>> done.records, done.public_key.name
(1, 'site.pub')
>>> verify_file(done.path, load_public_key(done.public_key)).ok
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edgeloop.audit.directory import LOG_FILE, PUBLIC_KEY_FILE, AuditError, fsync_dir, write_atomic
from edgeloop.audit.keys import load_public_key, public_pem


@dataclass(frozen=True, slots=True)
class Export:
    path: Path  # the JSONL copy
    public_key: Path  # the PEM public key beside it
    records: int  # lines copied
    skipped_bytes: int  # a torn last line left out (0 normally)


def export(directory: Path, out: Path) -> Export:
    """Copy the log in `directory` to `out` and its public key to `out.with_suffix('.pub')`."""
    log, pub = directory / LOG_FILE, directory / PUBLIC_KEY_FILE
    key_out = out.with_suffix(".pub")
    for needed in (log, pub):
        if not needed.is_file():
            raise AuditError(f"no {needed.name} in {directory}", needed)
    if key_out == out or {out.resolve(), key_out.resolve()} & {log.resolve(), pub.resolve()}:
        raise AuditError(f"exporting to {out} would overwrite the log or its key", out)
    public_key = load_public_key(pub)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    records = skipped = 0
    try:
        with log.open("rb") as src, tmp.open("wb") as dst:
            for line in src:  # a writer may be appending: a line is only taken once its newline is there
                if line.endswith(b"\n"):
                    dst.write(line)
                    records += 1
                else:
                    skipped = len(line)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(out.parent)
    write_atomic(key_out, public_pem(public_key))
    return Export(out, key_out, records, skipped)
