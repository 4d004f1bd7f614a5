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
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from edgeloop.io.mqtt import MqttClient, Will
from edgeloop.io.transport import Transport

__all__ = ["PROTOCOLS", "AdapterFactory", "Link", "ProtocolError", "open_protocol"]


@dataclass(frozen=True, slots=True)
class Link:
    """What any adapter may need to open: the site, its map file, a broker, a client id and protocol options."""

    site: str
    map: Path | None = None  # the protocol's map (Modbus registers, OPC UA nodes); None where it has none
    broker: str | None = None  # mqtt://host:port for the protocols that ride on MQTT (mqtt, sparkplug)
    client_id: str | None = None
    will: Will | None = None  # MQTT last will, for the protocols that ride on MQTT
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


class ProtocolError(ValueError):
    """A protocol that is not known, or a link that lacks what the protocol needs."""


#: opens one link: an async context manager that yields a connected `Transport`
AdapterFactory = Callable[[Link], contextlib.AbstractAsyncContextManager[Transport]]


@contextlib.asynccontextmanager
async def _mqtt(link: Link) -> AsyncIterator[Transport]:
    if not link.broker:
        raise ProtocolError("protocol mqtt needs a broker URL")
    async with MqttClient(link.broker, link.client_id, will=link.will) as client:
        yield client


@contextlib.asynccontextmanager
async def _modbus(link: Link) -> AsyncIterator[Transport]:
    from edgeloop.io.modbus.adapter import open_modbus  # pymodbus is loaded only by sites that speak it

    async with open_modbus(link) as transport:
        yield transport


PROTOCOLS: dict[str, AdapterFactory] = {"mqtt": _mqtt, "modbus": _modbus}


def open_protocol(name: str, link: Link) -> contextlib.AbstractAsyncContextManager[Transport]:
    """The named protocol's adapter on `link`; raises ProtocolError for a name not in `PROTOCOLS`."""
    factory = PROTOCOLS.get(name)
    if factory is None:
        raise ProtocolError(f"unknown protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}")
    return factory(link)
