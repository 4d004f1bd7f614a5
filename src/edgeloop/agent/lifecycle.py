"""How a site agent's run starts and ends, around its loop of micro-batches (`SiteAgent.run`).

At the start: its subscriptions (metas, events, acks and device states site-wide; telemetry as its partition
says), what an earlier run decided and the broker never acknowledged sent again, `online` on its state topic,
and the audit log's head. At the end: what has arrived is handled, `offline`, a last checkpoint and head, the
outbox and the store flushed within SIGTERM's 10 s, and the QoS 1 messages whose writes are committed
acknowledged; the rest the broker sends again at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from edgeloop.io.topics import Channel, site_filter, site_wide_filter

if TYPE_CHECKING:  # the agent calls these with itself
    from edgeloop.agent.site import SiteAgent

log = logging.getLogger(__name__)


async def start(agent: SiteAgent) -> None:
    client = agent.client
    if agent.partition.part is None and agent.telemetry_qos >= 1:
        # everything of the site in one subscription: NATS keeps a queue per subscription, and with several an
        # event or a command's ack could overtake readings, or wait 30 s behind them (docs/topics.md, "Delivery
        # of what the agent receives")
        await client.subscribe(site_wide_filter(agent.site), qos=agent.telemetry_qos)
        agent.partition.subscribed_site_wide()
    else:
        for channel in (Channel.META, Channel.EVENT, Channel.ACK, Channel.STATE):
            await client.subscribe(site_filter(agent.site, channel), qos=1)
    await agent.partition.subscribe(client, agent.registry, agent.telemetry_qos)
    if agent.outbox is not None:
        await agent.outbox.resend()  # what an earlier run decided and the broker never acknowledged
    if agent.acks is not None:
        agent.acks.listen(asyncio.get_running_loop())
    agent.publish(agent.partition.state_topic, b"online", 1, retain=True)
    await agent.publish_audit_head()


async def finish(agent: SiteAgent) -> None:
    client, acks, store = agent.client, agent.acks, agent.store
    while batch := client.drain(agent.settings.batch_max):
        agent.handle_batch(batch)
        if acks is not None:  # telemetry still held after a restart stays unacknowledged: it comes again
            acks.after_batch(park=agent.holdback.held > 0)
    agent.publish(agent.partition.state_topic, b"offline", 1, retain=True)
    await agent.checkpoint()
    await agent.publish_audit_head()
    if agent.outbox is not None:  # what is not acknowledged by now is published again at the next start
        await agent.outbox.close(timeout=2.0)
    else:
        await client.flush(timeout=3.0)
    if not await asyncio.to_thread(store.flush, 5.0):  # SIGTERM must end the agent within 10 s
        log.error("stopping with writes not committed to %s: %s", store.path, store.failure or "timeout")
    if acks is not None:  # what is committed is acknowledged; the rest the broker sends again at the next start
        acks.stop()
        acks.release()
        if acks.held:
            log.warning("%d QoS 1 messages left unacknowledged: the broker sends them again", acks.held)
