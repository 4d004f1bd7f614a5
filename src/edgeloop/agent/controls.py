"""A site's control messages, typed at the edge (`io/inbound.py`): metas to the devices, events to the outcomes,
acks to the dispatcher, one at a time. A failure quarantines that one message, with its reason, never the agent;
a store or audit log that cannot be written stops intake, visibly."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from edgeloop.audit import AuditError
from edgeloop.io.inbound import Control, DeviceEvent, MetaUpdate, rejection
from edgeloop.io.store import StoreError

if TYPE_CHECKING:  # the agent calls these with itself
    from edgeloop.agent.site import SiteAgent

log = logging.getLogger(__name__)


def handle(agent: SiteAgent, controls: Sequence[Control], now: float) -> None:
    """Metas, events and acks in the order given; then the holdout is drawn for new devices and groups redone."""
    if not controls:
        return
    for control in controls:
        if not isinstance(control, MetaUpdate):
            agent.devices.assign_holdout(now)
        try:
            _one(agent, control, now)
        except (ValueError, TypeError, KeyError) as exc:
            agent.quarantine([rejection(control, str(exc))], now)
        except (StoreError, AuditError):
            raise  # no storage or no audit log: intake stops, visibly (the caller sees why)
        except Exception as exc:  # a bug or an input nobody foresaw: this message only, never the agent
            log.exception("handling a %s of %s failed", type(control).__name__, control.device)
            agent.quarantine([rejection(control, f"internal error: {type(exc).__name__}: {exc}")], now)
    agent.devices.assign_holdout(now)
    agent.devices.regroup()


def _one(agent: SiteAgent, control: Control, now: float) -> None:
    if isinstance(control, MetaUpdate):
        agent.devices.on_meta(control.meta, now)
    elif isinstance(control, DeviceEvent):
        agent.outcomes.on_event(control, now)
    else:
        agent.dispatcher.on_ack(control, now)
