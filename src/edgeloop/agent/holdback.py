"""Telemetry and device events held after a warm restart or a reconnection, so that the agent meets each device's
readings and events in the order they happened.

A broker sends again what the agent had received but not acknowledged (`agent/acks.py`) when it died or its
connection broke. Mosquitto does so as soon as the session resumes, before anything newer. NATS waits for its ack
wait (30 s by default) while it delivers newer messages at once, so those readings would reach the learners after
later ones, and the scores that follow would differ from those of an agent that never stopped. For
`broker.redelivery_s` after a warm restart or a reconnection, the agent holds its telemetry and device events
unhandled and unacknowledged (metas and command acks are handled as they come), then takes them all at once in
time order: what the broker sent again is by then among them. Events are in that order too: a repair gives the
device fresh series, so the readings before it must be learnt before it is handled. Readings at an event's time
come after the event (a device repaired at t reports from t on as repaired). At most `limit` messages are held;
beyond that they are taken early, in order too. 0 (the default) holds nothing: right for brokers that send again
at once.

>>> def reading(ts): return Message("edgeloop/v1/s/d/telemetry", orjson.dumps({"ts": ts, "metrics": {}}), False)
>>> def event(ts): return DeviceEvent("d", "repaired", ts, None, None, None, {"kind": "repaired", "ts": ts})
>>> hold = Holdback()
>>> hold.start(until=100.0)
>>> hold.take(Inbound([], [reading(5), reading(1)]), now=90.0), hold.held
([], 2)
>>> steps = hold.take(Inbound([event(4)], [reading(9)]), now=101.0)
>>> [([orjson.loads(m.payload)["ts"] for m in part], e and e.ts) for part, e in steps]
[([1], 4), ([5, 9], None)]
>>> links = [1]
>>> hold.follow(lambda: links[0], wait_s=30.0)
>>> links[0] = 2  # the link broke and connected again
>>> hold.take(Inbound([], [reading(1)]), now=200.0), len(hold.take(Inbound([], [reading(2)]), now=231.0)[0][0])
([], 2)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

import orjson

from edgeloop.io.inbound import DeviceEvent, Inbound
from edgeloop.io.transport import Message

#: most messages held; more are taken early (a broker without a window, a wait set too long)
HOLD_LIMIT = 200_000

#: what to handle, in order: telemetry, then the event that followed it (None after the last part)
Steps = list[tuple[list[Message], DeviceEvent | None]]


class Holdback:
    """Telemetry and device events kept from the agent until `until` (agent clock), then handed over in order."""

    def __init__(self, limit: int = HOLD_LIMIT) -> None:
        self.until = -math.inf
        self.limit = limit
        self._telemetry: list[Message] = []
        self._events: list[DeviceEvent] = []
        self._connections: Callable[[], int] | None = None
        self._wait_s = 0.0
        self._seen = 0

    def start(self, until: float) -> None:
        self.until = until

    def follow(self, connections: Callable[[], int], wait_s: float) -> None:
        """Hold for `wait_s` after each reconnection too (`connections()` counts the link's connections): what
        was in flight on a connection that broke comes again as late as after a kill."""
        self._connections, self._wait_s, self._seen = connections, wait_s, connections()

    @property
    def held(self) -> int:
        return len(self._telemetry) + len(self._events)

    def holding(self, now: float) -> bool:
        """Whether what comes at `now` is held (its acknowledgements with it)."""
        if self._connections is not None and (count := self._connections()) != self._seen:
            if self._seen:
                self.until = max(self.until, now + self._wait_s)
            self._seen = count
        return now < self.until and self.held < self.limit

    def take(self, inbound: Inbound, now: float) -> Steps:
        """What to handle of `inbound`'s telemetry, and of its device events while any are held (those are taken
        out of `inbound.controls`): nothing while holding; else the telemetry alone when nothing was held, or
        everything held and given, split at the events in time order."""
        telemetry, events, holding = inbound.telemetry, [], self.holding(now)
        if self.held or holding:
            events = [c for c in inbound.controls if isinstance(c, DeviceEvent)]
            if events:
                inbound.controls = [c for c in inbound.controls if not isinstance(c, DeviceEvent)]
        if holding:
            self._telemetry.extend(telemetry)
            self._events.extend(events)
            return []
        if not self.held:
            return [(telemetry, None)] if telemetry else []
        stamped = sorted(((_stamp(m), m) for m in self._telemetry + telemetry), key=lambda sm: sm[0])
        stamps, messages = [s for s, _ in stamped], [m for _, m in stamped]
        held_events = sorted(self._events + events, key=lambda e: e.ts)
        self._telemetry, self._events, self.until = [], [], -math.inf
        steps: Steps = []
        start = 0
        for event in held_events:
            cut = bisect.bisect_left(stamps, event.ts, lo=start)
            steps.append((messages[start:cut], event))
            start = cut
        return [*steps, (messages[start:], None)] if start < len(messages) else steps


def _stamp(message: Message) -> float:
    """The data time of a telemetry message (of its first item), for ordering only: -inf where it has none (the
    decoder rejects it, with its reason, wherever it goes)."""
    try:
        doc = message.doc if message.doc is not None else orjson.loads(message.payload)
        item = doc[0] if isinstance(doc, list) and doc else doc
        ts = item.get("ts") if isinstance(item, dict) else getattr(item, "ts", None)
        if isinstance(ts, (int, float)) and not isinstance(ts, bool) and math.isfinite(ts):
            return float(ts)
        return -math.inf
    except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
        return -math.inf
