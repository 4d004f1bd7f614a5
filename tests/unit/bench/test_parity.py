"""Reading what a NAB run leaves behind, and a failed NAB run reported with its output (no NAB needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from edgeloop.bench.nab import NabRunError, read_nab_figures, run_nab_scorer

SCORES_CSV = """\
Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count
mine,standard,realKnownCause/nyc_taxi.csv,0.9,-1.5,2,900,3,80,985
mine,standard,artificialNoAnomaly/art_flatline.csv,0.9,-0.22,0,3400,2,0,3402
Totals,,,,-1.72,2,4300,5,80,4387
"""


def test_nab_figures_are_read_from_its_thresholds_scores_and_final_results(tmp_path: Path) -> None:
    (tmp_path / "results" / "mine").mkdir(parents=True)
    (tmp_path / "thresholds.json").write_text('{"mine": {"standard": {"threshold": 0.9, "score": -1.72}}}')
    (tmp_path / "results" / "final_results.json").write_text('{"mine": {"standard": 49.25862068965517}}')
    (tmp_path / "results" / "mine" / "mine_standard_scores.csv").write_text(SCORES_CSV)
    fig = read_nab_figures(tmp_path, ["mine"])["mine", "standard"]
    assert (fig.threshold, fig.raw, fig.normalized, fig.tp, fig.tn, fig.fp, fig.fn) == (
        0.9, -1.72, 49.25862068965517, 2, 4300, 5, 80
    )  # fmt: skip
    assert fig.per_file == {"realKnownCause/nyc_taxi.csv": -1.5, "artificialNoAnomaly/art_flatline.csv": -0.22}


def test_a_failing_nab_run_raises_with_its_output(tmp_path: Path) -> None:
    nab = tmp_path / "nab"
    nab.mkdir()
    (nab / "run.py").write_text("import sys\nprint('no pandas here')\nsys.exit(3)\n")
    with pytest.raises(NabRunError, match="no pandas here") as err:
        run_nab_scorer(nab, sys.executable, tmp_path / "work", ["mine"], tmp_path / "corpus")
    assert err.value.returncode == 3


def test_a_folder_without_run_py_is_not_a_nab_checkout(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a NAB checkout"):
        run_nab_scorer(tmp_path, sys.executable, tmp_path, ["mine"], tmp_path)
