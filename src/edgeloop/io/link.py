"""What opening a protocol adapter takes (`Link`), and the error for a protocol or link that cannot be opened.

Kept apart from the registry (`edgeloop.io.protocols`) so that adapters can import it without importing the
registry that imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from edgeloop.io.mqtt import BrokerAuth, Will

__all__ = ["Link", "ProtocolError"]


@dataclass(frozen=True, slots=True)
class Link:
    """What any adapter may need to open: the site, its map file, a broker, a client id and protocol options."""

    site: str
    map: Path | None = None  # the protocol's map (Modbus registers, OPC UA nodes); None where it has none
    broker: str | None = None  # mqtt://host:port for the protocols that ride on MQTT (mqtt, sparkplug)
    client_id: str | None = None
    will: Will | None = None  # MQTT last will, for the protocols that ride on MQTT
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    clean_session: bool = True  # False: the broker keeps the session while the client is away (MQTT-borne ones)
    auth: BrokerAuth | None = None  # TLS files and credentials for the broker
    hold_acks: bool = False  # MQTT: QoS 1 messages acknowledged when the receiver says (`MqttClient.acknowledge`)


class ProtocolError(ValueError):
    """A protocol that is not known, or a link that lacks what the protocol needs."""
