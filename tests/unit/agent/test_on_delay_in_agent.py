"""False alarms that go away on their own teach their alarm class an on-delay; the agent holds such alarms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.model import ArgSpec, CommandSpec, DeviceMeta, MetricSpec
from edgeloop.policy.describe import explain_lines
from edgeloop.settings import load_settings

from .test_ledger_writer import SITE, T0

META = DeviceMeta(
    "pump-1",
    "pump",
    (MetricSpec("vibration", "mm/s", 0.0, 50.0), MetricSpec("bearing_temp", "degC", -20.0, 150.0)),
    (CommandSpec("schedule_maintenance", (ArgSpec("within_h", 0.0, 24.0),)),),
)

RNG = np.random.default_rng(7)


def calm(n: int) -> list[float]:
    return (4.0 + 0.05 * RNG.standard_normal(n)).tolist()


def warm(n: int) -> list[float]:
    return (60.0 + 0.3 * RNG.standard_normal(n)).tolist()


class Site:
    """One pump's vibration (and bearing temperature) through a real agent, a sample every 15 s of data time."""

    def __init__(self, tmp_path: Path, min_false: int = 1) -> None:
        """`min_false`: one false alarm that went away teaches its class an on-delay here, to test what one does;
        the agent's default asks for three (the last test)."""
        agent_cfg = {"site": SITE, "data_dir": tmp_path, "cooldown_s": 600, "autonomy": 3,
                     "on_delay_min_false": min_false}  # fmt: skip
        settings = load_settings(None, agent=agent_cfg, ledger={"holdout_fraction": 0.0})
        self.store = SqliteStore(settings.agent.db_path, SITE)
        self.link = Loopback()
        self.i = 0
        books = LedgerWriter.open(self.store, settings.ledger)
        self.agent = SiteAgent(settings.agent, self.link, self.store, make_learner(), make_policy(settings.agent),
                               books, clock=lambda: T0 + 15 * self.i)  # fmt: skip
        self.link.deliver(f"edgeloop/v1/{SITE}/pump-1/meta", orjson.dumps(META.to_json()), retain=True)
        self.agent.handle_batch(self.link.drain(10))

    def feed(self, values: list[float], temps: list[float] | None = None) -> None:
        temps = warm(len(values)) if temps is None else temps
        for v, temp in zip(values, temps, strict=True):
            payload = {"ts": T0 + 15 * self.i, "seq": self.i, "metrics": {"vibration": v, "bearing_temp": temp}}
            self.link.deliver(f"edgeloop/v1/{SITE}/pump-1/telemetry", orjson.dumps(payload))
            self.i += 1
            if self.i % 20 == 0:
                self.agent.handle_batch(self.link.drain(10_000))
        self.agent.handle_batch(self.link.drain(10_000))

    def event(self, doc: dict[str, object]) -> None:
        self.link.deliver(f"edgeloop/v1/{SITE}/pump-1/event", orjson.dumps({"ts": T0 + 15 * self.i, **doc}))
        self.agent.handle_batch(self.link.drain(100))

    def decisions(self) -> list[dict[str, object]]:
        self.store.flush()
        return [orjson.loads(r[0]) for r in self.store.query("SELECT record FROM decisions ORDER BY ts")]

    def answer_false_alarm(self, decision: str) -> None:
        self.store.flush()
        self.agent.approvals.take("verdict", decision, "false_alarm", "operator", "a glitch", T0 + 15 * self.i)


def a_glitch() -> list[float]:
    """A reading stuck high for a minute and a half, then back: long enough for a sustained anomaly (a lone spike
    no longer makes one, since the noise view clips a step's influence)."""
    return [*calm(2), *([12.0] * 6), *calm(2)]


def glitch_taught_again(site: Site) -> dict[str, object]:
    """A glitch's alarm (after the last one's cooldown), called false by the operator, then calm long enough to
    show it was transient: its decision."""
    site.feed(calm(60 if site.i else 400))
    site.feed(a_glitch())
    site.feed(calm(20))
    newest = site.decisions()[-1]
    site.answer_false_alarm(str(newest["id"]))
    site.feed(calm(120))
    return newest


def glitch_taught(site: Site) -> dict[str, object]:
    """The first glitch of a quiet pump, taught: the pump's only decision."""
    first = glitch_taught_again(site)
    assert site.decisions() == [first]
    return first


def test_a_false_alarm_that_went_away_gives_its_class_an_on_delay(tmp_path: Path) -> None:
    site = Site(tmp_path)

    first = glitch_taught(site)

    site.store.close()
    assert first["on_delay_s"] == 0.0
    assert site.agent.stage.feedback.on_delay.delay("pump/vibration") > 0.0
    assert site.agent.stage.feedback.thresholds.threshold("pump-1", "pump") == 0.9  # a glitch moves no threshold


def test_the_next_glitch_of_that_class_is_held_and_lapses(tmp_path: Path) -> None:
    site = Site(tmp_path)
    glitch_taught(site)

    site.feed(a_glitch())
    site.feed(calm(120))

    decisions = site.decisions()
    site.store.close()
    assert len(decisions) == 1
    assert (site.agent.stats.alarms_delayed, site.agent.stats.alarms_lapsed) == (1, 1)


def test_an_anomaly_that_outlasts_the_on_delay_is_raised_with_its_wait(tmp_path: Path) -> None:
    site = Site(tmp_path)
    glitch_taught(site)
    wait = site.agent.stage.feedback.on_delay.delay("pump/vibration")

    site.feed([20.0 + 0.5 * float(np.sin(i)) for i in range(int(wait // 15) + 20)])  # a lasting jump

    decisions = site.decisions()
    site.store.close()
    assert len(decisions) == 2
    assert decisions[1]["on_delay_s"] >= wait
    assert site.agent.stats.alarms_lapsed == 0
    assert any(line.startswith("on-delay: raised after") for line in explain_lines(decisions[1]))


def test_a_false_alarm_still_anomalous_when_the_device_is_serviced_moves_thresholds_not_delays(
    tmp_path: Path,
) -> None:
    site = Site(tmp_path)
    site.feed(calm(400))
    site.feed([20.0] * 10)
    (first,) = site.decisions()

    site.answer_false_alarm(str(first["id"]))
    site.event({"kind": "maintenance_started", "found": None})

    site.store.close()
    assert site.agent.stage.feedback.on_delay.delays() == {}
    assert site.agent.stage.feedback.thresholds.threshold("pump-1", "pump") > 0.9


def test_a_failure_after_a_lapsed_alarm_makes_its_class_wait_less(tmp_path: Path) -> None:
    site = Site(tmp_path)
    glitch_taught(site)
    site.feed(a_glitch())
    site.feed(calm(120))
    assert site.agent.stats.alarms_lapsed == 1

    site.event({"kind": "failure", "downtime_s": 3600})

    site.store.close()
    assert site.agent.stage.feedback.on_delay.delay("pump/vibration") == 0.0


def test_what_feedback_taught_survives_a_restart(tmp_path: Path) -> None:
    site = Site(tmp_path)
    glitch_taught(site)
    wait = site.agent.stage.feedback.on_delay.delay("pump/vibration")
    site.store.close()

    again = Site(tmp_path)

    again.store.close()
    assert again.agent.stage.feedback.on_delay.delay("pump/vibration") == wait > 0.0


def test_an_anomaly_soon_after_a_lapse_is_raised_at_once(tmp_path: Path) -> None:
    site = Site(tmp_path)
    glitch_taught(site)
    site.feed(a_glitch())
    site.feed(calm(120))  # the first lapses

    site.feed(a_glitch())  # the device again, within hours: no glitch repeats that soon
    site.feed(calm(20))

    decisions = site.decisions()
    site.store.close()
    assert len(decisions) == 2
    assert decisions[1]["on_delay_s"] == 0.0
    assert site.agent.stats.alarms_delayed == 1


def test_a_held_alarm_is_raised_as_soon_as_a_second_metric_turns_anomalous(tmp_path: Path) -> None:
    site = Site(tmp_path)
    glitch_taught(site)
    wait = site.agent.stage.feedback.on_delay.delay("pump/vibration")
    lasting = [20.0 + 0.5 * float(np.sin(i)) for i in range(int(wait // 15) + 20)]
    heating = [60.0 + 0.5 * i for i in range(len(lasting))]  # the bearing heats up a few samples later

    site.feed(lasting, heating)

    decisions = site.decisions()
    site.store.close()
    assert len(decisions) >= 2
    assert 0.0 < float(decisions[1]["on_delay_s"]) < wait  # raised before the delay was over


def test_an_alarm_called_false_whose_maintenance_found_a_fault_is_learnt_as_true(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.feed(calm(400))
    site.feed([20.0] * 10)
    (first,) = site.decisions()

    site.answer_false_alarm(str(first["id"]))  # the operator is wrong
    site.event({"kind": "maintenance_started", "found": "bearing_wear"})

    site.store.close()
    assert site.agent.stage.feedback.thresholds.threshold("pump-1", "pump") == 0.9
    assert site.agent.stage.feedback.on_delay.delays() == {}


def test_a_failure_long_after_a_lapsed_alarm_leaves_the_delay_alone(tmp_path: Path) -> None:
    site = Site(tmp_path)
    glitch_taught(site)
    wait = site.agent.stage.feedback.on_delay.delay("pump/vibration")
    site.feed(a_glitch())
    site.feed(calm(120))
    assert site.agent.stats.alarms_lapsed == 1
    site.feed(calm(4 * 8 * 60))  # 8 hours of calm

    site.event({"kind": "failure", "downtime_s": 3600})

    site.store.close()
    assert site.agent.stage.feedback.on_delay.delay("pump/vibration") == wait > 0.0


def test_by_default_a_class_waits_only_after_three_false_alarms_that_went_away(tmp_path: Path) -> None:
    site = Site(tmp_path, min_false=3)
    delays = []
    for _ in range(3):
        taught = glitch_taught_again(site)
        delays.append((taught["on_delay_s"], site.agent.stage.feedback.on_delay.delay("pump/vibration")))

    site.store.close()
    assert [wait > 0 for _, wait in delays] == [False, False, True]
    assert all(held == 0.0 for held, _ in delays)  # none of the three waited: the class had no delay yet
