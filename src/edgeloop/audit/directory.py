"""The audit directory on disk: its file names, its error type, and durable small writes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

LOG_FILE = "audit.jsonl"
KEY_FILE = "audit.key"
PUBLIC_KEY_FILE = "audit.pub"


class AuditError(Exception):
    """The audit log or its key cannot be used as asked. `path` is the file concerned, when there is one."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        self.path = path
        super().__init__(message)


def fsync_dir(directory: Path) -> None:
    """Make new or renamed entries of `directory` survive a power cut."""
    with contextlib.suppress(OSError):  # some file systems cannot fsync a directory; nothing more to do there
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` so that a reader or a crash sees the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return path
