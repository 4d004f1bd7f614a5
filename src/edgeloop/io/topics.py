"""The v1 MQTT topic scheme (see ARCHITECTURE.md): building and parsing topics."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from edgeloop.model import is_valid_id

PREFIX = "edgeloop/v1"
AGENT = "_agent"


class Channel(StrEnum):
    TELEMETRY = "telemetry"
    EVENT = "event"
    META = "meta"
    STATE = "state"
    CMD = "cmd"
    ACK = "cmd/ack"
    #: bad input that a protocol adapter (Sparkplug B, OPC UA, ...) found, carried to the agent's quarantine
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    site: str
    device: str
    channel: Channel


class TopicError(ValueError):
    """A topic outside the v1 scheme; `reason` says what is wrong."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"{reason}: {topic[:200]!r}")
        self.topic = topic
        self.reason = reason


def device_topic(site: str, device: str, channel: Channel) -> str:
    """
    >>> device_topic("plant1", "pump-1", Channel.ACK)
    'edgeloop/v1/plant1/pump-1/cmd/ack'
    """
    return f"{PREFIX}/{site}/{device}/{channel}"


def site_filter(site: str, channel: Channel) -> str:
    """The subscription filter for one channel of every device of a site."""
    return f"{PREFIX}/{site}/+/{channel}"


def site_wide_filter(site: str) -> str:
    """One subscription filter for everything of a site: its devices' telemetry, events, metas, states and command
    acks (and what the agent publishes itself, which it passes over). On a broker with a queue per subscription
    (NATS JetStream) one queue delivers them in the order they came: with two, NATS sends nothing on the second
    while the first has `max_ack_pending` messages unacknowledged, until its ack wait (30 s) has passed.

    >>> site_wide_filter("plant1")
    'edgeloop/v1/plant1/#'
    """
    return f"{PREFIX}/{site}/#"


def agent_topic(site: str, what: str) -> str:
    return f"{PREFIX}/{site}/{AGENT}/{what}"


def agent_state_topic(site: str, partition: str | None = None) -> str:
    """The agent's retained online/offline state; one per partition (label ``p0of2``) when the site is split.

    >>> agent_state_topic("plant1"), agent_state_topic("plant1", "p0of2")
    ('edgeloop/v1/plant1/_agent/state', 'edgeloop/v1/plant1/_agent/p0of2/state')
    """
    return agent_topic(site, "state" if partition is None else f"{partition}/state")


def fleet_topic(*parts: str) -> str:
    return "/".join((PREFIX, "_fleet", *parts))


_CHANNELS = {c.value: c for c in Channel}


def parse_device_topic(topic: str) -> DeviceTopic:
    """Split a device topic into its parts; raises TopicError with a reason for anything else.

    >>> parse_device_topic("edgeloop/v1/plant1/pump-1/telemetry")
    DeviceTopic(site='plant1', device='pump-1', channel=<Channel.TELEMETRY: 'telemetry'>)
    >>> parse_device_topic("edgeloop/v1/plant1/Pump 1/telemetry")
    Traceback (most recent call last):
    edgeloop.io.topics.TopicError: bad device id: 'edgeloop/v1/plant1/Pump 1/telemetry'
    """
    parts = topic.split("/", 4)
    if len(parts) != 5 or parts[0] != "edgeloop" or parts[1] != "v1":
        raise TopicError(topic, "not a v1 device topic")
    _, _, site, device, rest = parts
    if not is_valid_id(site):
        raise TopicError(topic, "bad site id")
    if not is_valid_id(device):
        raise TopicError(topic, "bad device id")
    channel = _CHANNELS.get(rest)
    if channel is None:
        raise TopicError(topic, "unknown channel")
    return DeviceTopic(site, device, channel)
