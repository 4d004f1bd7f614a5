"""A restart resumes warm: an agent that takes back a checkpoint scores what follows exactly as an agent that
never stopped."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

from edgeloop.agent import checkpoint
from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.settings import Settings, load_settings

T0 = 1_700_006_400.0
METRICS = {"vibration": {"unit": "mm/s", "low": 0, "high": 50}, "flow": {"unit": "m3/h", "low": 0, "high": 300}}
METAS = [{"device": f"pump-{i}", "asset_type": "pump", "commands": {}, "metrics": METRICS} for i in range(3)]


def agent_in(
    data_dir: Path, link: Loopback, clock: Callable[[], float] = lambda: T0 + 1e6, late_window_s: float = 600.0
) -> tuple[Settings, SiteAgent]:
    settings = load_settings(None, agent={"site": "s1", "data_dir": data_dir, "cooldown_s": 600,
                                          "late_window_s": late_window_s})  # fmt: skip
    store = SqliteStore(settings.agent.db_path, "s1")
    agent = SiteAgent(settings.agent, link, store, make_learner(settings.agent), make_policy(settings.agent),
                      LedgerWriter.open(store, settings.ledger), clock=clock)  # fmt: skip
    return settings, agent


def feed(agent: SiteAgent | SinkAgent, link: Loopback, steps: range) -> list[tuple[str, bytes]]:
    """Three pumps' readings of `steps`, handled 20 steps at a time; what was delivered."""
    rng = np.random.default_rng(steps.start)
    sent = []
    for step in steps:
        for i in range(3):
            vibration = 3.0 + 0.2 * rng.standard_normal() + (20.0 if step % 97 in (5, 6, 7, 8, 9) else 0.0)
            body = {"ts": T0 + 15 * step, "metrics": {"vibration": vibration, "flow": 80 + rng.standard_normal()}}
            sent.append((f"edgeloop/v1/s1/pump-{i}/telemetry", orjson.dumps(body)))
            link.deliver(*sent[-1])
        if step % 20 == 19:
            agent.handle_batch(link.drain(1000))
    agent.handle_batch(link.drain(1000))
    return sent


def announce(agent: SiteAgent, link: Loopback) -> None:
    for meta in METAS:
        link.deliver(f"edgeloop/v1/s1/{meta['device']}/meta", orjson.dumps(meta), retain=True)
    agent.handle_batch(link.drain(10))


def scores_after(agent: SiteAgent, t_from: float) -> np.ndarray:
    agent.store.flush()
    return np.concatenate([agent.store.read_series(f"pump-{i}", m, t_from)[2]
                           for i in range(3) for m in ("vibration", "flow")])  # fmt: skip


def test_scores_after_a_restart_from_a_checkpoint_equal_those_of_a_run_that_never_stopped(tmp_path: Path) -> None:
    link = Loopback()
    _, uninterrupted = agent_in(tmp_path / "one", link)
    announce(uninterrupted, link)
    feed(uninterrupted, link, range(0, 400))
    feed(uninterrupted, link, range(400, 800))

    _, first = agent_in(tmp_path / "two", link)
    announce(first, link)
    feed(first, link, range(0, 400))
    checkpoint.write(first.settings.checkpoint_path, checkpoint.encode(first.learnt_state()))
    first.store.close()
    _, second = agent_in(tmp_path / "two", link)
    assert second.resume(checkpoint.load(first.settings.checkpoint_path) or {})
    announce(second, link)  # the retained metas come again on a restart
    feed(second, link, range(400, 800))

    expected, resumed = scores_after(uninterrupted, T0 + 15 * 400), scores_after(second, T0 + 15 * 400)
    assert expected.shape == resumed.shape == (6 * 400,)
    np.testing.assert_allclose(resumed, expected, rtol=0, atol=1e-9)
    assert second.stats.decisions == uninterrupted.stats.decisions - first.stats.decisions > 0
    for agent in (uninterrupted, second):
        agent.store.close()


def test_a_checkpoint_that_cannot_be_read_is_set_aside_and_the_agent_starts_cold(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pickle"
    path.write_bytes(b"not a pickle")

    assert checkpoint.load(path) is None
    assert not path.exists()
    assert (tmp_path / "checkpoint.pickle.unusable").read_bytes() == b"not a pickle"


def test_after_a_kill_between_checkpoints_the_agent_learns_again_what_it_stored_and_skips_what_comes_again(
    tmp_path: Path,
) -> None:
    """Killed 100 steps after its last checkpoint, the agent learns those steps again from the store; the broker
    then sends again (DUP) the last 20 steps it stored but never acknowledged, and those are dropped: what follows
    is scored as by a run that never stopped."""
    link = Loopback()
    _, uninterrupted = agent_in(tmp_path / "one", link)
    announce(uninterrupted, link)
    for part in (range(0, 300), range(300, 400), range(400, 800)):
        feed(uninterrupted, link, part)

    _, first = agent_in(tmp_path / "two", link)
    announce(first, link)
    feed(first, link, range(0, 300))
    checkpoint.write(first.settings.checkpoint_path, checkpoint.encode(first.learnt_state()))
    stored = feed(first, link, range(300, 400))  # stored, then the agent dies: no checkpoint of these
    first.store.close()
    _, second = agent_in(tmp_path / "two", link)
    assert second.resume(checkpoint.load(first.settings.checkpoint_path) or {})
    announce(second, link)
    for topic, payload in stored[-3 * 20 :]:  # stored before the kill, not acknowledged: sent again
        link.deliver(topic, payload, dup=True)
    second.handle_batch(link.drain(1000))
    feed(second, link, range(400, 800))

    assert second.stats.repeats_dropped == 3 * 20
    expected, resumed = scores_after(uninterrupted, T0 + 15 * 400), scores_after(second, T0 + 15 * 400)
    assert expected.shape == resumed.shape == (6 * 400,)
    np.testing.assert_allclose(resumed, expected, rtol=0, atol=1e-9)
    for agent in (uninterrupted, second):
        agent.store.close()


def in_flight_run(tmp_path: Path, redelivery_s: float, late_window_s: float = 600.0) -> tuple[SiteAgent, SiteAgent]:
    """The uninterrupted agent, and one killed with steps 380-400 stored but unacknowledged and 400-420 in
    flight (delivered, never stored), whose broker sends newer steps (420-500) at once and those again only
    30 s later, as NATS does; the second agent holds its telemetry `redelivery_s` after its restart."""
    link = Loopback()
    _, uninterrupted = agent_in(tmp_path / "one", link)
    announce(uninterrupted, link)
    for part in (range(0, 300), range(300, 400), range(400, 420), range(420, 500), range(500, 800)):
        feed(uninterrupted, link, part)  # (each part's readings are drawn from its own seed)

    _, first = agent_in(tmp_path / "two", link, late_window_s=late_window_s)
    announce(first, link)
    feed(first, link, range(0, 300))
    checkpoint.write(first.settings.checkpoint_path, checkpoint.encode(first.learnt_state()))
    stored = feed(first, link, range(300, 400))
    in_flight = feed(SinkAgent(), link, range(400, 420))  # the dead agent had them, and stored nothing of them
    first.store.close()
    clock = [T0 + 1e6]
    _, second = agent_in(tmp_path / "two", link, clock=lambda: clock[0], late_window_s=late_window_s)
    assert second.resume(checkpoint.load(first.settings.checkpoint_path) or {})
    second.holdback.start(until=clock[0] + redelivery_s)
    announce(second, link)
    feed(second, link, range(420, 500))  # newer ones first
    clock[0] += 30.0
    for topic, payload in stored[-3 * 20 :] + in_flight:  # the ack wait has passed: sent again
        link.deliver(topic, payload, dup=True)
    second.handle_batch(link.drain(1000))
    clock[0] += 2.0
    feed(second, link, range(500, 800))
    return uninterrupted, second


class SinkAgent:
    def handle_batch(self, messages: object) -> None:
        pass


def test_what_was_in_flight_at_a_kill_and_comes_again_late_is_learnt_in_time_order_after_the_hold(
    tmp_path: Path,
) -> None:
    uninterrupted, second = in_flight_run(tmp_path / "held", redelivery_s=32.0)

    assert second.stats.repeats_dropped == 3 * 20
    expected, resumed = scores_after(uninterrupted, T0 + 15 * 400), scores_after(second, T0 + 15 * 400)
    assert expected.shape == resumed.shape == (6 * 400,)
    np.testing.assert_allclose(resumed, expected, rtol=0, atol=1e-9)


def test_without_the_hold_what_comes_again_late_is_put_in_place_and_what_follows_scored_as_without_a_kill(
    tmp_path: Path,
) -> None:
    """Without the hold the readings that were in flight come after newer ones: late. The learner goes back to its
    copy from before them (kept in the checkpoint) and learns again with them in place (`agent/rewind.py`): the
    scores given before they came differ from the uninterrupted run's, and those given after equal them."""
    uninterrupted, second = in_flight_run(tmp_path / "not held", redelivery_s=0.0)

    assert second.stats.late_readings == second.stats.late_placed == 3 * 20
    before = scores_after(uninterrupted, T0 + 15 * 400), scores_after(second, T0 + 15 * 400)
    assert np.abs(before[0] - before[1]).max() > 1e-6  # steps 420-500, scored without them
    expected, resumed = scores_after(uninterrupted, T0 + 15 * 500), scores_after(second, T0 + 15 * 500)
    assert expected.shape == resumed.shape == (6 * 300,)
    np.testing.assert_allclose(resumed, expected, rtol=0, atol=1e-9)


def test_without_the_hold_or_copies_what_comes_again_late_is_not_learnt_and_the_scores_differ(tmp_path: Path) -> None:
    """Without copies of the learner (`agent.late_window_s: 0`) the late readings are stored, neither scored nor
    learnt (`Newest.split_late`), so the learners miss them and the scores that follow differ."""
    uninterrupted, second = in_flight_run(tmp_path / "not held", redelivery_s=0.0, late_window_s=0.0)

    expected, resumed = scores_after(uninterrupted, T0 + 15 * 400), scores_after(second, T0 + 15 * 400)
    assert expected.shape == resumed.shape
    late = np.isnan(resumed)
    assert late.any()
    assert second.stats.late_readings > 0
    assert np.abs(resumed[~late] - expected[~late]).max() > 1e-6


def repair_at(step: int) -> bytes:
    return orjson.dumps({"kind": "repaired", "reason": "failure", "ts": T0 + 15 * step})


def repaired_run(data_dir: Path, link: Loopback, bounds: list[int], step: int) -> SiteAgent:
    """An agent that never stops, fed the steps in the parts between `bounds` (each part draws its readings from
    its own seed: a run compared with it must be fed the same parts), pump-0 repaired at `step`."""
    _, agent = agent_in(data_dir, link)
    announce(agent, link)
    for start, end in itertools.pairwise(bounds):
        if start == step:
            link.deliver("edgeloop/v1/s1/pump-0/event", repair_at(step))
        feed(agent, link, range(start, end))
    return agent


def test_a_repair_met_during_the_hold_is_handled_between_the_readings_before_and_after_it(tmp_path: Path) -> None:
    """A repair gives the device fresh series: handled as it came while the readings before it were held, those
    would be learnt by the fresh series. Held with them, it is handled in its place in time."""
    repair = repair_at(450)
    link = Loopback()
    uninterrupted = repaired_run(tmp_path / "one", link, [0, 400, 450, 500, 800], 450)

    clock = [T0 + 1e6]
    _, held = agent_in(tmp_path / "two", link, clock=lambda: clock[0])
    announce(held, link)
    feed(held, link, range(0, 400))
    held.holdback.start(until=clock[0] + 32.0)
    feed(held, link, range(400, 450))
    link.deliver("edgeloop/v1/s1/pump-0/event", repair)
    feed(held, link, range(450, 500))
    assert held.holdback.held == 3 * 100 + 1
    clock[0] += 33.0
    feed(held, link, range(500, 800))

    expected, got = scores_after(uninterrupted, T0 + 15 * 400), scores_after(held, T0 + 15 * 400)
    assert expected.shape == got.shape == (6 * 400,)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_a_repair_between_the_checkpoint_and_a_kill_is_met_again_when_the_stored_readings_are_learnt_again(
    tmp_path: Path,
) -> None:
    """The repair was stored and acknowledged, so the broker does not send it again, but the checkpoint is older:
    learning the stored readings again, the restarted agent renews the device where the earlier run did."""
    repair = repair_at(350)
    link = Loopback()
    uninterrupted = repaired_run(tmp_path / "one", link, [0, 300, 350, 400, 800], 350)

    _, first = agent_in(tmp_path / "two", link)
    announce(first, link)
    feed(first, link, range(0, 300))
    checkpoint.write(first.settings.checkpoint_path, checkpoint.encode(first.learnt_state()))
    feed(first, link, range(300, 350))
    link.deliver("edgeloop/v1/s1/pump-0/event", repair)
    feed(first, link, range(350, 400))  # stored, then the agent dies: the checkpoint knows neither these nor the repair
    first.store.close()
    _, second = agent_in(tmp_path / "two", link)
    assert second.resume(checkpoint.load(first.settings.checkpoint_path) or {})
    announce(second, link)
    feed(second, link, range(400, 800))

    expected, resumed = scores_after(uninterrupted, T0 + 15 * 400), scores_after(second, T0 + 15 * 400)
    assert expected.shape == resumed.shape == (6 * 400,)
    np.testing.assert_allclose(resumed, expected, rtol=0, atol=1e-9)
