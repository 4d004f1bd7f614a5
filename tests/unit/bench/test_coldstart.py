"""`edgeloop bench coldstart` refuses settings it cannot run with exit code 2, before it simulates anything."""

from __future__ import annotations

import pytest

from edgeloop.bench.coldstart import coldstart


def test_a_budget_with_a_learner_that_is_not_calibrated_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert coldstart(learner="ewma_noise", budget=1.0) == 2
    assert "calibrated learner" in capsys.readouterr().err


def test_an_unknown_learner_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert coldstart(learner="no_such_learner") == 2
    assert "not a known learner" in capsys.readouterr().err
