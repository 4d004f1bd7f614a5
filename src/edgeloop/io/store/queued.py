"""What the stores' writer threads share: how far the writer has committed, and waiting for queued writes."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class WriteMarks:
    """How far a store's writer has got, counted in queued writes: `queued` writes were put on its queue, the
    first `committed` of them are in the database. The writer commits in queue order, so a caller that noted
    `queued` after its writes knows they are all committed once `committed` reaches that mark. `on_commit`, when
    set, is called in the writer's thread after each commit with the new `committed`.

    >>> jobs: queue.Queue[str] = queue.Queue()
    >>> marks = WriteMarks()
    >>> marks.put(jobs, "insert a"); marks.put(jobs, "insert b"); marks.queued
    2
    >>> marks.done(2); marks.committed
    2
    """

    def __init__(self) -> None:
        self.queued = 0
        self.committed = 0
        self.on_commit: Callable[[int], None] | None = None
        self._lock = threading.Lock()  # a count and its place on the queue agree, whichever thread writes

    def put(self, jobs: queue.Queue[Any], job: Any) -> None:
        with self._lock:
            self.queued += 1
            jobs.put(job)

    def done(self, n: int) -> None:
        """The writer committed the next `n` writes."""
        self.committed += n
        if self.on_commit is not None:
            try:
                self.on_commit(self.committed)
            except Exception:  # whoever listens, the writer goes on
                log.exception("a commit listener failed")


def wait_for_writes(jobs: queue.Queue[Any], timeout: float | None, failed: Callable[[], bool]) -> bool:
    """Block until every job put on `jobs` is done, or `timeout` seconds, or the writer has `failed()`; whether
    all were done."""
    if timeout is None:
        jobs.join()
        return True
    deadline = time.monotonic() + timeout
    while jobs.unfinished_tasks and time.monotonic() < deadline and not failed():
        time.sleep(0.01)
    return not jobs.unfinished_tasks
