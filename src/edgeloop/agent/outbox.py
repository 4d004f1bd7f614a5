"""The durable outbox: the agent's QoS 1 messages (decisions, commands, its state and audit head) survive a
broker outage, a lost connection and a restart.

`put` writes the message to the store's `outbox` table (through the store's writer, in order with every other
write) and holds it; `pump`, called from the agent's loop, publishes it once the store has committed it (or it
has waited `commit_s`, see `pump`). Once the client reports every QoS 1
message acknowledged by the broker, the rows are marked sent. A message never acknowledged (the broker down,
the agent killed) stays unsent in the store, and `resend` publishes it again when the agent starts: delivery is
at least once, so receivers settle repeats by id (commands carry one, devices execute an id once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from edgeloop.io.store import AgentStore
from edgeloop.io.transport import Transport

log = logging.getLogger(__name__)

#: acknowledged rows are deleted when the agent next starts, once they are this old
KEEP_SENT_S = 86_400.0


@dataclass(slots=True)
class OutboxStats:
    written: int = 0  # messages put in the outbox
    published: int = 0  # published after their row was committed
    confirmed: int = 0  # acknowledged by the broker and marked sent
    resent: int = 0  # found unsent in the store at start and published again
    uncommitted: int = 0  # published before the store confirmed its row (a store lagging past `commit_s`)


class DurableOutbox:
    """The site's outbox over its store and its link to the broker (see the module's doc)."""

    def __init__(
        self, store: AgentStore, client: Transport, clock: Callable[[], float] = time.time, commit_s: float = 0.5
    ) -> None:
        self.store = store
        self.client = client
        self.clock = clock
        self.commit_s = commit_s
        self.stats = OutboxStats()
        #: written, not yet published: (the store's write mark, when held, id, topic, payload, qos, retain)
        self._held: list[tuple[int, float, str, str, bytes, int, bool]] = []
        self._confirming: set[asyncio.Task[None]] = set()
        #: called with each (topic, payload) as it is published (the agent starts a command's ack clock then)
        self.on_published: Callable[[str, bytes], None] | None = None

    @property
    def held(self) -> int:
        return len(self._held)

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> str:
        """Write a message to the outbox; `pump` publishes it once the store has it. Returns its id."""
        message_id = uuid.uuid4().hex
        self.store.write_outbox([(message_id, self.clock(), topic, payload, qos, retain)])
        self._held.append((self.store.marks.queued, time.monotonic(), message_id, topic, payload, qos, retain))
        self.stats.written += 1
        return message_id

    async def pump(self, wait: bool = False) -> int:
        """Publish, in order, the held messages whose rows the store has committed (its `marks`), and those held
        past `commit_s`; how many went out. It does not wait for the store (with `wait`, when closing, it waits up
        to `commit_s` first): the agent's loop calls it between micro-batches, and waiting there for the writer's
        commit delayed every batch behind a decision (bench throughput's p99 decision latency went from 6 to
        28 ms). Past `commit_s` a message goes out with its row queued but not yet known committed (counted in
        `stats.uncommitted`); a failed store stops intake on its own (`AgentStore.check`)."""
        if not self._held or self.store.failure is not None:
            return 0  # no storage: nothing goes out that the site could not account for
        if wait:
            await asyncio.to_thread(self.store.flush, self.commit_s)
        committed, now = self.store.marks.committed, time.monotonic()
        due = 0
        for mark, since, *_ in self._held:
            if mark > committed and now - since < self.commit_s:
                break
            due += 1
        if not due:
            return 0
        batch, self._held = self._held[:due], self._held[due:]
        self.stats.uncommitted += sum(1 for mark, *_ in batch if mark > committed)
        for _, _, _, topic, payload, qos, retain in batch:
            self.client.publish(topic, payload, qos=qos, retain=retain)
            if self.on_published is not None:
                self.on_published(topic, payload)
        self.stats.published += len(batch)
        self._confirm([message_id for _, _, message_id, *_ in batch])
        return len(batch)

    async def resend(self) -> int:
        """Publish again what an earlier run wrote and the broker never acknowledged; how many."""
        self.store.forget_sent(self.clock() - KEEP_SENT_S)
        unsent = await asyncio.to_thread(self.store.read_unsent)
        for _, topic, payload, qos, retain in unsent:
            self.client.publish(topic, payload, qos=qos, retain=retain)
        if unsent:
            log.info("outbox: %d messages of an earlier run published again", len(unsent))
            self.stats.resent += len(unsent)
            self._confirm([message_id for message_id, *_ in unsent])
        return len(unsent)

    def _confirm(self, ids: list[str]) -> None:
        task = asyncio.get_running_loop().create_task(self._when_acknowledged(ids))
        self._confirming.add(task)
        task.add_done_callback(self._confirming.discard)

    async def _when_acknowledged(self, ids: list[str]) -> None:
        # the client's flush is True once nothing it published at QoS 1 waits for an ack: these included
        while not await self.client.flush(timeout=5.0):
            pass
        self.store.mark_sent(ids, self.clock())
        self.stats.confirmed += len(ids)

    async def close(self, timeout: float = 3.0) -> bool:
        """Publish what is held and wait (up to `timeout`) for the broker's acks; whether all came. What did not
        stays unsent in the store for the next start."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pump(wait=True), timeout)
        pending = set(self._confirming)
        if pending:
            _, late = await asyncio.wait(pending, timeout=timeout)
            for task in late:
                task.cancel()
            return not late and not self._held
        return not self._held
