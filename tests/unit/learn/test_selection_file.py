"""Selection files: what `bench select` writes reads back the same; a bad file names its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeloop.learn.selection import (
    Candidate,
    Choice,
    Selection,
    SelectionError,
    dump_selection,
    load_selection,
    parse_selection,
)

GOOD = """\
data: factory recording
asset_types:
  pump:
    learner: robust_ewma
    threshold: 0.99
    sustain: 4
  motor:
    learner: ewma_noise
    threshold: 0.95
"""


def test_a_written_selection_reads_back_the_same() -> None:
    evidence = [Candidate(learner="robust_ewma", threshold=0.99, sustain=4, precision=1.0, recall=0.5, f1=0.667)]
    selection = Selection(
        data="d",
        made="2026-01-01",
        asset_types={
            "pump": Choice(learner="robust_ewma", threshold=0.99, sustain=4, runners_up=["cusum"], evidence=evidence)
        },
    )
    assert parse_selection(dump_selection(selection), "x.yaml") == selection


def test_an_unknown_learner_is_refused_with_its_line() -> None:
    with pytest.raises(SelectionError) as caught:
        parse_selection(GOOD.replace("ewma_noise", "magic_forest"), "sel.yaml")
    assert caught.value.line == 8
    assert caught.value.field == "asset_types.motor.learner"
    assert "unknown learner 'magic_forest'" in str(caught.value)


def test_a_threshold_outside_the_unit_interval_is_refused_with_its_line() -> None:
    with pytest.raises(SelectionError) as caught:
        parse_selection(GOOD.replace("0.99", "1.2"), "sel.yaml")
    assert (caught.value.line, caught.value.field) == (5, "asset_types.pump.threshold")


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sel.yaml"
    path.write_text("- robust_ewma\n")
    with pytest.raises(SelectionError, match="must be a mapping"):
        load_selection(path)
