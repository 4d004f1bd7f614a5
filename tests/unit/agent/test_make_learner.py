"""The agent's learner comes from the settings, by its name in the catalog."""

from pathlib import Path

import numpy as np
import pytest

from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.learn import RobustEWMA
from edgeloop.learn.catalog import gated_parts
from edgeloop.learn.combine import MaxOf
from edgeloop.learn.ensemble import NoveltyEnsemble
from edgeloop.learn.noise import NoiseRatio
from edgeloop.settings import AgentSettings, SettingsError, load_settings

from .test_ledger_writer import SITE, T0, announce


def test_the_default_watches_level_and_noise_with_the_agents_memory() -> None:
    learner = make_learner(AgentSettings())

    assert isinstance(learner, MaxOf)
    level, noise = learner.learners
    assert isinstance(level, RobustEWMA)
    assert level.half_life_s == 255.0
    assert isinstance(noise, NoiseRatio)
    assert noise.point_s == 15.0


def test_a_registered_learner_is_chosen_by_name() -> None:
    learner = make_learner(AgentSettings(learner="novelty_ensemble"))

    assert isinstance(learner, NoveltyEnsemble)


def test_an_unknown_learner_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match=r"known: .*novelty_ensemble"):
        make_learner(AgentSettings.model_construct(learner="no_such_learner"))


def test_settings_refuse_an_unknown_learner_when_read() -> None:
    with pytest.raises(SettingsError, match=r"agent.learner 'no_such_learner' is not a known learner"):
        load_settings(None, agent={"learner": "no_such_learner"})


def test_settings_refuse_an_unknown_challenger_when_read() -> None:
    with pytest.raises(SettingsError, match=r"unknown challengers \['magic_forest'\]"):
        load_settings(None, agent={"challengers": ["runners_up", "magic_forest"]})


OLD_NAMES = [("robust_ewma", "robust_ewma_timed"), ("ewma_noise", "ewma_noise_timed")]


@pytest.mark.parametrize(("name", "variant"), OLD_NAMES)
def test_the_old_names_still_mean_the_agents_timed_variants(name: str, variant: str) -> None:
    by_old_name = make_learner(AgentSettings(learner=name))
    by_own_name = make_learner(AgentSettings(learner=variant))

    assert type(by_old_name) is type(by_own_name)
    assert by_old_name.params() == by_own_name.params()


def test_the_agent_tells_a_device_learner_which_keys_are_one_device(tmp_path: Path) -> None:
    settings = load_settings(None, agent={"site": SITE, "data_dir": tmp_path, "learner": "novelty_ensemble"})
    store = SqliteStore(settings.agent.db_path, SITE)
    link = Loopback()
    learner = make_learner(settings.agent)
    agent = SiteAgent(settings.agent, link, store, learner, make_policy(settings.agent), clock=lambda: T0)

    announce(agent, link, ["pump-1", "pump-2"])
    store.close()

    assert isinstance(learner, NoveltyEnsemble)
    assert learner.groups == [0, 1]


def test_the_settings_timeout_reaches_every_gated_part_and_re_bases_a_lasting_hold() -> None:
    learner = make_learner(AgentSettings(learner="ewma_noise_timed_spot", rebase_after_h=2.0))
    (gated,) = gated_parts(learner)
    keys, ts = np.zeros(3000, dtype=np.int64), 15.0 * np.arange(3000)
    x = np.r_[np.random.default_rng(1).normal(0, 1, 2000), np.full(1000, 40.0)]  # a jump that lasts 4 h
    learner.score_learn(keys, x, ts)
    assert gated.rebase_after_s == 7200.0
    assert [r.reason for r in gated.take_rebases()] == ["timeout"]
    assert not gated_parts(make_learner(AgentSettings(learner="ewma_noise_timed_spot")))[0].rebase_after_s
