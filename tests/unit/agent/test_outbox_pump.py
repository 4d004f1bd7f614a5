"""The outbox publishes what the store's writer has committed, in order, and never makes the agent's loop wait for
the writer (a wait there delayed every micro-batch behind a decision)."""

from __future__ import annotations

import asyncio
from typing import Any

from edgeloop.agent.outbox import DurableOutbox
from edgeloop.io.loopback import Loopback
from edgeloop.io.store.queued import WriteMarks


class Writer:
    """The part of a store the outbox uses: its write marks, moved by hand (the writer's thread, in a store)."""

    def __init__(self) -> None:
        self.marks, self.failure = WriteMarks(), None

    def write_outbox(self, rows: list[Any]) -> None:
        self.marks.queued += 1

    def flush(self, timeout: float | None = None) -> bool:
        return self.marks.committed >= self.marks.queued

    def mark_sent(self, ids: list[str], at: float) -> None:
        pass


async def test_only_what_the_store_has_committed_goes_out_in_order_without_waiting() -> None:
    store, link = Writer(), Loopback()
    outbox = DurableOutbox(store, link, commit_s=60.0)  # type: ignore[arg-type]
    for i in range(3):
        outbox.put("edgeloop/v1/s/_agent/decision", f"d{i}".encode())

    assert await asyncio.wait_for(outbox.pump(), 0.1) == 0  # nothing committed: nothing out, and no wait
    store.marks.committed = 2
    assert await outbox.pump() == 2
    store.marks.committed = 3
    assert await outbox.pump() == 1
    assert [m.payload for m in link.sent] == [b"d0", b"d1", b"d2"]
    assert outbox.stats.uncommitted == 0


async def test_a_message_held_past_commit_s_goes_out_uncommitted() -> None:
    store, link = Writer(), Loopback()
    outbox = DurableOutbox(store, link, commit_s=0.0)  # type: ignore[arg-type]
    outbox.put("edgeloop/v1/s/_agent/decision", b"d0")

    assert await outbox.pump() == 1
    assert outbox.stats.uncommitted == 1
