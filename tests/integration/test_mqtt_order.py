"""A publisher's readings reach the broker in the order it published them, across a broken connection: what was in
flight when the link broke is sent again before anything published since (MQTT 3.1.1 section 4.6). gmqtt sent it
after, so on a loaded cluster a device's readings came to the agent behind newer ones (issue 18, `bench fleet`)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from tests.integration.test_outbox import listener, until

from edgeloop.bench.faults import CuttableLink
from edgeloop.io.mqtt import MqttClient, parse_url

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("clean_session", [False, True], ids=["session kept", "clean session"])
async def test_in_flight_publishes_go_again_before_newer_ones_after_a_reconnection(
    broker_url: str, clean_session: bool
) -> None:
    topic = f"edgeloop/v1/order{uuid.uuid4().hex[:8]}/pump-1/telemetry"
    link = CuttableLink(*parse_url(broker_url))
    await link.up()
    async with listener(broker_url, topic) as got:
        client = MqttClient(link.url, f"pub-{uuid.uuid4().hex[:8]}", clean_session=clean_session)
        async with client:
            for i in range(100):
                client.publish(topic, b"%d" % i, qos=1)
            assert await client.flush(10)
            link.swallowing = True  # 100..149 leave the client and are lost on the way: in flight, unacknowledged
            for i in range(100, 150):
                client.publish(topic, b"%d" % i, qos=1)
            await asyncio.sleep(0.3)
            in_flight = client._inflight()
            await link.down()
            await until(lambda: not client.connected, 5)
            for i in range(150, 200):  # published while away: queued until the connection is back
                client.publish(topic, b"%d" % i, qos=1)
            link.swallowing = False
            started = time.monotonic()
            await link.up()
            flushed = await client.flush(20)
            back_in = time.monotonic() - started
            complete = await until(lambda: len(set(got)) == 200, 10)
    await link.down()

    assert in_flight == 50
    assert flushed, f"not everything was acknowledged {back_in:.1f} s after the link came back"
    assert complete, f"{200 - len(set(got))} readings never arrived"
    first_arrivals = list(dict.fromkeys(int(p) for p in got))  # a copy sent again counts where it first came
    assert first_arrivals == list(range(200))
