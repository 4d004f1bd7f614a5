"""Telemetry held after a warm restart or a reconnection, so that the learners see each device's readings in the
order they were taken.

A broker sends again what the agent had received but not acknowledged (`agent/acks.py`) when it died or its
connection broke. Mosquitto does so as soon as the session resumes, before anything newer. NATS waits for its ack
wait (30 s by default) while it delivers newer messages at once, so those readings would reach the learners after
later ones, and the scores that follow would differ from those of an agent that never stopped. For
`broker.redelivery_s` after a warm restart or a reconnection, the agent holds its telemetry unhandled and
unacknowledged (events, acks and metas are handled as they come), then takes it all at once in time order
(`DecodedBatch.in_time_order`): what the broker sent again is by then among it. At most `limit` messages are held;
beyond that they are taken early, in order too. 0 (the default) holds nothing: right for brokers that send again
at once.

>>> hold = Holdback()
>>> hold.start(until=100.0)
>>> hold.take([1, 2], now=90.0), hold.held
([], 2)
>>> hold.take([3], now=101.0), hold.held
([1, 2, 3], 0)
>>> links = [1]
>>> hold.follow(lambda: links[0], wait_s=30.0)
>>> links[0] = 2  # the link broke and connected again
>>> hold.take([4], now=200.0), hold.take([5], now=231.0)
([], [4, 5])
>>> small = Holdback(limit=2)
>>> small.start(until=100.0)
>>> small.take([1, 2], now=0.0), small.take([3], now=0.0)
([], [1, 2, 3])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

#: most messages held; more are taken early (a broker without a window, a wait set too long)
HOLD_LIMIT = 200_000


class Holdback(Generic[T]):
    """Messages kept from the learners until `until` (agent clock), then handed over together."""

    def __init__(self, limit: int = HOLD_LIMIT) -> None:
        self.until = -float("inf")
        self.limit = limit
        self._held: list[T] = []
        self._connections: Callable[[], int] | None = None
        self._wait_s = 0.0
        self._seen = 0

    def start(self, until: float) -> None:
        self.until = until

    def follow(self, connections: Callable[[], int], wait_s: float) -> None:
        """Hold for `wait_s` after each reconnection too (`connections()` counts the link's connections): what
        was in flight on a connection that broke comes again as late as after a kill."""
        self._connections, self._wait_s, self._seen = connections, wait_s, connections()

    def _reconnected(self, now: float) -> None:
        if self._connections is None:
            return
        count = self._connections()
        if count != self._seen:
            if self._seen:
                self.until = max(self.until, now + self._wait_s)
            self._seen = count

    @property
    def held(self) -> int:
        return len(self._held)

    def holding(self, now: float) -> bool:
        """Whether telemetry that comes at `now` is held (its acknowledgements with it)."""
        self._reconnected(now)
        return now < self.until and len(self._held) < self.limit

    def take(self, messages: list[T], now: float) -> list[T]:
        """What to handle now: nothing while holding (`messages` are kept), else all held and `messages`."""
        if self.holding(now):
            self._held.extend(messages)
            return []
        if not self._held:
            return messages
        taken, self._held = self._held + messages, []
        self.until = -float("inf")
        return taken
