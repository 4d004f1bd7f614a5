"""The dispatcher on its own: decisions, commands, acks and timeouts with in-memory records; no broker, no
store, no event loop."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from edgeloop.agent.dispatcher import Dispatcher
from edgeloop.agent.service import make_policy
from edgeloop.agent.stats import AgentStats
from edgeloop.io.inbound import CommandAck
from edgeloop.model import AckStatus, ArgSpec, Command, CommandSpec, Decision, DecisionStatus, DeviceMeta, MetricSpec
from edgeloop.policy import GuardState
from edgeloop.settings import AgentSettings

META = DeviceMeta("pump-1", "pump", (MetricSpec("vibration", "mm/s", 0, 50),),
                  (CommandSpec("schedule_maintenance", (ArgSpec("within_h", 0, 24),)),))  # fmt: skip
T0 = 1_700_000_000.0


class Records:
    """The rows the dispatcher would keep in a store, in memory."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, Any]] = []

    def write_decision(self, record: dict[str, Any], audit: str | None = None) -> None:
        self.rows.append(("decision", record))

    def write_guard_state(self, state: dict[str, Any], at: float) -> None:
        self.rows.append(("guard", state))

    def write_command(
        self, cmd_id: str, decision: str, device: str, name: str, args: dict[str, Any], at: float
    ) -> None:
        self.rows.append(("command", cmd_id))

    def write_ack(self, cmd_id: str, status: str, at: float, detail: str) -> None:
        self.rows.append(("ack", (cmd_id, status)))

    def write_outcome(self, device: str, ts: float, at: float, kind: str, decision: str | None, detail: Any) -> None:
        self.rows.append(("outcome", kind))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.rows]


class Desk:
    def __init__(self) -> None:
        self.requested: list[tuple[Decision, Command]] = []

    def open_for(self, device: str) -> str | None:
        return next((d.id for d, c in self.requested if c.device == device), None)

    def request(self, decision: Decision, command: Command, expires: float, now: float) -> None:
        self.requested.append((decision, command))


def dispatcher(autonomy: int) -> tuple[Dispatcher, Records, list[tuple[str, bytes]], list[str]]:
    records, sent, logged = Records(), [], []
    policy = make_policy(AgentSettings(site="s1", autonomy=autonomy))
    log = lambda kind, body, now: logged.append(kind)  # noqa: E731
    publish = lambda topic, payload, qos: sent.append((topic, payload))  # noqa: E731
    d = Dispatcher("s1", policy, GuardState(), records, log, publish, AgentStats(), ack_timeout_s=10.0)
    return d, records, sent, logged


def decide(d: Dispatcher, held_out: bool = False) -> Decision:
    return d.decide(META, T0, 0.97, {"vibration": 0.97}, T0 + 1.0, "ewma_noise", held_out)


def test_at_autonomy_3_a_decision_is_logged_before_its_command_is_sent_and_waits_for_its_ack() -> None:
    d, records, sent, logged = dispatcher(3)

    decision = decide(d)

    assert decision.status is DecisionStatus.SENT
    assert decision.action is not None
    assert logged == ["decision", "command"]
    assert [t for t, _ in sent] == ["edgeloop/v1/s1/_agent/decision", "edgeloop/v1/s1/pump-1/cmd"]
    assert orjson.loads(sent[1][1])["id"] == decision.action.id
    assert list(d.pending) == [decision.action.id]
    assert d.last_decision == {"pump-1": decision.id}
    assert records.kinds() == ["decision", "guard", "command"]


def test_a_done_ack_settles_its_command() -> None:
    d, records, _, _ = dispatcher(3)
    command = decide(d).action
    assert command is not None

    d.on_ack(CommandAck("pump-1", command.id, AckStatus.DONE, "ok"), T0 + 2)

    assert d.pending == {}
    assert d.stats.commands_acked == 1
    assert records.rows[-2:] == [("ack", (command.id, "done")), ("outcome", "ack_done")]


def test_an_ack_that_settles_nothing_is_refused_and_the_command_still_waits() -> None:
    d, _, _, _ = dispatcher(3)
    command = decide(d).action
    assert command is not None

    with pytest.raises(ValueError, match="unknown or already settled"):
        d.on_ack(CommandAck("pump-1", "no-such-id", AckStatus.DONE, ""), T0 + 2)
    with pytest.raises(ValueError, match="for a command sent to 'pump-1'"):
        d.on_ack(CommandAck("pump-2", command.id, AckStatus.DONE, ""), T0 + 2)
    assert list(d.pending) == [command.id]


def test_a_command_with_no_ack_in_time_is_recorded_as_timed_out() -> None:
    d, records, _, logged = dispatcher(3)
    decide(d)

    d.sweep(T0 + 5.0)
    waiting = dict(d.pending)
    d.sweep(T0 + 11.0)

    assert waiting
    assert d.pending == {}
    assert d.stats.commands_timed_out == 1
    assert records.rows[-1] == ("outcome", "ack_timeout")
    assert logged[-1] == "ack"


def test_an_ack_that_comes_after_the_timeout_still_settles_the_command() -> None:
    """A broker sends again, 30 s later, an ack the agent could not store: the device did act, and says so."""
    d, records, _, _ = dispatcher(3)
    decide(d)
    command_id = next(iter(d.pending))
    d.sweep(T0 + 11.0)

    d.on_ack(CommandAck("pump-1", command_id, AckStatus.DONE, "maintenance in 0.5 h"), T0 + 40.0)

    assert records.rows[-2] == ("ack", (command_id, "done"))
    assert records.rows[-1] == ("outcome", "ack_done")
    assert (d.stats.commands_timed_out, d.stats.commands_acked, d.stats.commands_acked_late) == (0, 1, 1)
    with pytest.raises(ValueError, match="unknown or already settled"):  # once
        d.on_ack(CommandAck("pump-1", command_id, AckStatus.DONE, ""), T0 + 41.0)


def test_a_held_out_device_gets_a_decision_and_no_command() -> None:
    d, _, sent, _ = dispatcher(3)

    decision = decide(d, held_out=True)

    assert decision.status is DecisionStatus.HELD_OUT
    assert decision.action is not None  # what would have been sent
    assert [t for t, _ in sent] == ["edgeloop/v1/s1/_agent/decision"]
    assert d.pending == {}


def test_at_autonomy_2_the_command_waits_for_an_operator_and_a_second_alarm_meets_the_open_question() -> None:
    d, _, sent, _ = dispatcher(2)
    d.approvals = desk = Desk()

    first = decide(d)
    second = decide(d)

    assert first.status is DecisionStatus.PENDING_APPROVAL
    assert [c.device for _, c in desk.requested] == ["pump-1"]
    assert second.status is DecisionStatus.BLOCKED
    assert d.stats.approvals_requested == 1
    assert d.stats.blocked == 1
    assert not any(t.endswith("/cmd") for t, _ in sent)
