"""Acknowledging QoS 1 messages to the broker only once the store has committed what they caused.

The agent handles a batch (its telemetry, events and acks become store writes, audit records and commands),
notes how many writes the store had queued by then, and hands the batch's acknowledgements to `StoredAcks`. When
the store's writer has committed up to that mark, they go to the broker. Whatever stops the agent before (a kill,
a full disk, a store that failed) leaves those messages unacknowledged, and the broker sends them again to the
agent's persistent session when it is back: a message the broker was told "received" is always in the store.

    >>> class Client:
    ...     sent: list[int] = []
    ...     def taken(self) -> list[int]: return [7, 8]
    ...     def acknowledge(self, taken: list[int]) -> None: self.sent += taken
    >>> marks = WriteMarks()
    >>> acks = StoredAcks(Client(), marks)
    >>> marks.queued = 3; acks.after_batch(); acks.held
    2
    >>> marks.committed = 3; acks.release(); acks.held, Client.sent
    (0, [7, 8])
    >>> acks.after_batch(park=True); marks.committed = 9; acks.release(); acks.held
    2
    >>> marks.queued = 9; acks.after_batch(); acks.held, Client.sent
    (0, [7, 8, 7, 8, 7, 8])
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Protocol

from edgeloop.io.store.queued import WriteMarks


class HoldsAcks(Protocol):
    """A link that acknowledges QoS 1 messages when told (`MqttClient` with `hold_acks`)."""

    def taken(self) -> list[int]: ...
    def acknowledge(self, taken: list[int]) -> None: ...


class StoredAcks:
    """Acknowledgements held until the store has committed the writes queued before them."""

    def __init__(self, client: HoldsAcks, marks: WriteMarks) -> None:
        self.client, self.marks = client, marks
        self._pending: deque[tuple[int, list[int]]] = deque()  # (store mark, acknowledgements), oldest first
        self._parked: list[int] = []  # acknowledgements of messages not handled yet, in the order they came
        self.held = 0  # acknowledgements waiting for the store (parked ones too)

    def after_batch(self, park: bool = False) -> None:
        """The batch drained last is handled: its acknowledgements wait for the writes it queued. With `park`,
        some of its messages are not handled yet (`agent/holdback.py`): they wait, in order, for a later batch's
        writes."""
        fresh = self.client.taken()
        self.held += len(fresh)
        self._parked += fresh
        if not park and self._parked:
            self._pending.append((self.marks.queued, self._parked))
            self._parked = []
        self.release()

    def release(self) -> None:
        """Send the acknowledgements whose writes are committed, in the order the messages came."""
        pending, committed = self._pending, self.marks.committed
        while pending and pending[0][0] <= committed:
            taken = pending.popleft()[1]
            self.held -= len(taken)
            self.client.acknowledge(taken)

    def listen(self, loop: asyncio.AbstractEventLoop) -> None:
        """Release as soon as the store's writer commits (it calls back from its own thread)."""

        def committed(_: int) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing left to acknowledge on
                loop.call_soon_threadsafe(self.release)

        self.marks.on_commit = committed

    def stop(self) -> None:
        self.marks.on_commit = None
