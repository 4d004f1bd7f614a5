"""A device's event and a command's ack reach the agent after the readings published before them, and at once,
while the agent holds its acknowledgements back (it sends them once the store has committed). The agent takes
everything of its site through one subscription (`site_wide_filter`): NATS keeps a JetStream consumer per
subscription, and with telemetry, events and acks apart (as before) an event overtook readings when the telemetry
window was not full, and when it was, NATS sent nothing on the other subscriptions until its ack wait (30 s) had
passed (issue 18, `bench fleet`).

On the embedded NATS broker only: Mosquitto keeps at most 1,000 queued messages per client by default and drops
the rest while acknowledgements are held, so this many readings would not all reach it."""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
import pytest

from edgeloop.io.broker import MAX_ACK_PENDING, EmbeddedBroker
from edgeloop.io.mqtt import MqttClient
from edgeloop.io.topics import Channel, device_topic, site_filter, site_wide_filter

pytestmark = pytest.mark.integration

READINGS = MAX_ACK_PENDING + 500  # more than the broker sends before it sees an acknowledgement
WAIT_S = 5.0  # what "at once" allows, well under NATS's ack wait


@pytest.mark.parametrize(
    ("filters", "in_order"),
    [pytest.param("one", True, id="one subscription"),
     pytest.param("per channel", False, id="a subscription per channel, as before")],
)  # fmt: skip
async def test_an_event_and_an_ack_come_after_the_readings_published_before_them(
    embedded_broker: EmbeddedBroker, filters: str, in_order: bool
) -> None:
    """A subscription per channel, as the agent subscribed before, fails: the reason for the one subscription, and
    the proof that the test tells the two apart."""
    url, site = str(embedded_broker.url), f"order{uuid.uuid4().hex[:8]}"
    last = {device_topic(site, "pump-1", Channel.EVENT): -1, device_topic(site, "pump-1", Channel.ACK): -2}
    got: list[int] = []  # reading numbers, and -1, -2 for the event and the ack, in arrival order
    agent = MqttClient(url, f"agent-{site}", clean_session=False, hold_acks=True)
    async with agent:
        if filters == "one":
            await agent.subscribe(site_wide_filter(site), qos=1)
        else:
            await agent.subscribe(*(site_filter(site, c) for c in (Channel.TELEMETRY, Channel.EVENT, Channel.ACK)),
                                  qos=1)  # fmt: skip
        await asyncio.sleep(0.3)
        async with MqttClient(url, f"device-{site}") as device:
            for i in range(READINGS):
                device.publish(device_topic(site, "pump-1", Channel.TELEMETRY), orjson.dumps({"ts": i}), qos=1)
            for topic, n in last.items():
                device.publish(topic, orjson.dumps({"ts": n}), qos=1)
            assert await device.flush(30)

        def take() -> bool:
            got.extend(int(orjson.loads(m.payload)["ts"]) for m in agent.drain(10_000))
            return -1 in got and -2 in got

        for _ in range(20):  # 1 s with the acknowledgements held: the broker stops at its window
            take()
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + WAIT_S
        while not take() and time.monotonic() < deadline:  # then the store commits: acknowledge what came
            agent.acknowledge(agent.taken())
            await asyncio.sleep(0.05)
        agent.acknowledge(agent.taken())

    came = -1 in got and -2 in got
    before = set(got[: min(got.index(-1), got.index(-2))]) if came else set()
    missing = READINGS - len(before & set(range(READINGS)))
    assert (came and missing == 0) is in_order, f"came within {WAIT_S} s: {came}; readings after them: {missing}"
