"""The protocols a site agent or a gateway can listen to, by name: each opens a `Transport` on the v1 scheme.

An adapter turns its protocol's reads into v1 `Message`s (a retained `meta` per device on first sight, then
`telemetry`, `state` and `event`), and the agent's `publish()` on a `.../cmd` topic into a protocol write whose
answer comes back as a v1 `cmd/ack`. So the agent, its policy, audit log and ledger run unchanged on any of them.
Input that the protocol itself found bad (an exception answer, a garbled frame, a slave gone) is delivered as a
`bad_input` event that the agent quarantines with its reason (see `edgeloop.io.inbound`).

    async with open_protocol("modbus", Link(site="plant1", map=Path("plant.yaml"))) as transport:
        agent = SiteAgent(settings, transport, ...)

A protocol registers here by name; its module is imported only when it is opened, so that a site that never
speaks Modbus never loads pymodbus.

>>> sorted(PROTOCOLS)[:2]
['modbus', 'mqtt']
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from edgeloop.io.link import Link, ProtocolError
from edgeloop.io.mqtt import MqttClient
from edgeloop.io.transport import Transport

__all__ = ["PROTOCOLS", "AdapterFactory", "Link", "ProtocolError", "open_protocol"]


#: opens one link: an async context manager that yields a connected `Transport`
AdapterFactory = Callable[[Link], contextlib.AbstractAsyncContextManager[Transport]]


@contextlib.asynccontextmanager
async def _mqtt(link: Link) -> AsyncIterator[Transport]:
    if not link.broker:
        raise ProtocolError("protocol mqtt needs a broker URL")
    async with MqttClient(
        link.broker,
        link.client_id,
        will=link.will,
        clean_session=link.clean_session,
        auth=link.auth,
        hold_acks=link.hold_acks,
    ) as client:
        yield client


@contextlib.asynccontextmanager
async def _modbus(link: Link) -> AsyncIterator[Transport]:
    from edgeloop.io.modbus.adapter import open_modbus  # pymodbus is loaded only by sites that speak it

    async with open_modbus(link) as transport:
        yield transport


@contextlib.asynccontextmanager
async def _sparkplug(link: Link) -> AsyncIterator[Transport]:
    from edgeloop.io.sparkplug import sparkplug_transport  # protobuf is loaded only by sites that speak it

    if not link.broker:
        raise ProtocolError("protocol sparkplug needs a broker URL (Sparkplug B rides on MQTT)")
    group = str(link.options.get("group", link.site))
    async with sparkplug_transport(link.broker, link.site, group) as host:
        yield host


@contextlib.asynccontextmanager
async def _opcua(link: Link) -> AsyncIterator[Transport]:
    from edgeloop.io.opcua import opcua_transport  # asyncua is loaded only by sites that speak it

    if link.map is None:
        raise ProtocolError("protocol opcua needs --map (its server, security and nodes)")
    async with opcua_transport(link.map, link.site) as source:
        yield source


PROTOCOLS: dict[str, AdapterFactory] = {"mqtt": _mqtt, "modbus": _modbus, "sparkplug": _sparkplug, "opcua": _opcua}


def open_protocol(name: str, link: Link) -> contextlib.AbstractAsyncContextManager[Transport]:
    """The named protocol's adapter on `link`; raises ProtocolError for a name not in `PROTOCOLS`."""
    factory = PROTOCOLS.get(name)
    if factory is None:
        raise ProtocolError(f"unknown protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}")
    return factory(link)
