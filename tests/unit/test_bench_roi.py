"""The ROI back-test: the run without the agent is the treated devices' counterfactual, the holdout is untouched."""

from __future__ import annotations

from edgeloop.bench.backtest import PlantSpec, run_with_agent, run_without_agent
from edgeloop.bench.roi import evaluate
from edgeloop.ledger import Arm
from edgeloop.settings import load_settings


def test_back_test_pair_leaves_the_holdout_alone_and_measures_the_agent() -> None:
    spec, settings = PlantSpec(seed=3, devices=40, days=2), load_settings()
    acted = run_with_agent(spec, settings)
    alone = run_without_agent(spec)
    check = evaluate(spec, settings, acted, alone, seconds=0.0, n_boot=200)

    held = set(acted.holdout.devices(Arm.HOLDOUT))
    assert check.holdout_devices == len(held) == 8
    assert check.holdout_unchanged, "the agent must not change what happens to holdout devices"
    assert acted.held_out > 0
    assert acted.sent > 0
    assert not held & {a["device"] for a in acted.truth["actions"]}
    # the same faults start at the same times in both runs
    starts = lambda truth: sorted((f["device"], f["start_ts"]) for f in truth["faults"] if f["device"] in held)  # noqa: E731
    assert starts(acted.truth) == starts(alone.truth)
    assert check.failures_treated < check.failures_treated_without_agent
