"""The model board on its own, with plain values: a plain board (no selection, no challengers) is the agent's
learner and rule for every asset type and nothing more; a board with a challenger grades and promotes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from edgeloop.agent.models import ModelBoard, Standing
from edgeloop.learn.base import Learner
from edgeloop.learn.catalog import agent_learner
from edgeloop.learn.cusum import Cusum
from edgeloop.learn.selection import Selection, parse_selection
from edgeloop.settings import AgentSettings


def board(learner: Learner | None = None, name: str = "ewma_noise", selection: Selection | None = None,
          challengers: Sequence[str] = (), saved: Mapping[str, Standing] | None = None) -> ModelBoard:  # fmt: skip
    """A board at the agent's rule: threshold 0.9, sustain 4; two labels may promote."""
    return ModelBoard(learner or Cusum(), name=name, threshold=0.9, sustain=4, cooldown_s=3600.0,
                      label_window_s=86_400.0, promote_min_labels=2, promote_margin=0.1, selection=selection,
                      challengers=challengers, saved=saved)  # fmt: skip


def plain(saved: Mapping[str, Standing] | None = None) -> ModelBoard:
    return board(saved=saved)


def test_a_board_without_selection_or_challengers_is_plain() -> None:
    assert plain().plain
    assert not board(challengers=["cusum"]).plain
    assert not board(selection=parse_selection("asset_types: {}\n")).plain


def test_a_plain_board_scores_with_the_agents_own_learner() -> None:
    learner = Cusum()
    assert board(learner).scorer is learner


def test_a_plain_boards_champion_is_the_agents_learner_at_the_agents_rule_for_every_type() -> None:
    models = plain()

    announced = models.on_device(0, "pump-1", "pump")

    assert announced == Standing("cusum", 0.9, 4)
    assert models.champion_of("pump") == Standing("cusum", 0.9, 4)
    assert models.champion_of("never_announced") == Standing("cusum", 0.9, 4)


def test_a_plain_board_ignores_champions_saved_by_a_board_with_challengers() -> None:
    models = plain(saved={"pump": Standing("seasonal", 0.99, 1)})

    assert models.champion_of("pump") == Standing("cusum", 0.9, 4)


def test_a_plain_board_leaves_thresholds_as_they_are() -> None:
    models = plain()
    models.on_device(0, "pump-1", "pump")

    for threshold in (0.9, 0.93, 0.977, 0.99871):
        assert models.scaled(threshold, "pump") == threshold


def test_a_plain_board_makes_no_shadow_decisions() -> None:
    models = plain()
    models.on_device(0, "pump-1", "pump")
    keys = np.arange(3, dtype=np.int64)
    models.on_series(keys, "pump")
    models.set_groups(np.zeros(3, dtype=np.int64))
    one = np.ones(3)

    made = models.shadow(keys, one * 100.0, one, np.zeros(1, dtype=np.int64), np.ones(1), np.zeros(1, dtype=np.int64),
                         np.ones(1, dtype=bool))  # fmt: skip

    assert made == []


def test_a_plain_board_never_promotes() -> None:
    models = plain()
    for i in range(10):
        models.on_device(i, f"pump-{i}", "pump")
        models.note_alarm("pump", "cusum", f"pump-{i}", 100.0)

    promotions = [models.label(f"pump-{i}", "pump", i % 2 == 0, 200.0) for i in range(10)]

    assert promotions == [None] * 10


def test_from_settings_without_selection_or_challengers_is_plain() -> None:
    learner = Cusum()

    models = ModelBoard.from_settings(learner, AgentSettings(threshold=0.95, sustain=2))

    assert models.plain
    assert models.scorer is learner
    assert models.champion_of("motor") == Standing("cusum", 0.95, 2)


def test_a_challenger_that_catches_what_the_champion_misses_is_promoted() -> None:
    models = board(agent_learner("robust_ewma"), name="robust_ewma", challengers=["cusum"])
    for i in range(2):
        models.on_device(i, f"pump-{i}", "pump")
        models.note_alarm("pump", "cusum", f"pump-{i}", 100.0)

    first = models.label("pump-0", "pump", True, 200.0)
    second = models.label("pump-1", "pump", True, 200.0)

    assert first is None
    assert second is not None
    assert (second["promoted"]["learner"], second["demoted"]["learner"]) == ("cusum", "robust_ewma")
    assert models.champion_of("pump").learner == "cusum"
    assert isinstance(models.champion.part("pump"), Cusum)


def test_a_selections_champion_threshold_moves_with_feedback_in_the_tail() -> None:
    selection = parse_selection("asset_types:\n  pump: {learner: cusum, threshold: 0.99, sustain: 1}\n")
    models = board(selection=selection)

    assert models.on_device(0, "pump-1", "pump") == Standing("cusum", 0.99, 1)
    assert models.scaled(0.9, "pump") == pytest.approx(0.99)
    assert models.scaled(0.95, "pump") == pytest.approx(0.995)
