"""What the stores' writer threads share: waiting for the queued writes with a time limit."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any


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
