"""`edgeloop bench detect`: the CSV reader, the figures at an operating point, and a run end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from edgeloop.bench.detect.corpus import CorpusError, Run, read_batadal, read_csv_dir
from edgeloop.bench.detect.run import detect, make_learner, matched_rates, score_run
from edgeloop.bench.detect.score import RunScores, figures


def write_runs(folder: Path, n_runs: int = 2, rows: int = 1500, fault_at: int = 1200) -> None:
    rng = np.random.default_rng(1)
    for r in range(n_runs):
        lines = ["timestamp,load,current,fault"]
        for i in range(rows):
            load = 10 + rng.normal(0, 0.5)
            current = 2 * load + rng.normal(0, 0.2) + (6.0 if i >= fault_at else 0.0)
            lines.append(f"{1_700_000_000 + 60 * i},{load:.4f},{current:.4f},{int(i >= fault_at)}")
        (folder / f"run{r}.csv").write_text("\n".join(lines) + "\n")


def test_a_csv_folder_is_read_as_runs_with_labels_metrics_and_warmup(tmp_path: Path) -> None:
    write_runs(tmp_path)
    corpus = read_csv_dir(tmp_path, ["fault"], warmup=300)
    run = corpus.runs[0]
    assert len(corpus.runs) == 2
    assert run.metrics == ("load", "current")
    assert run.warmup == 300
    assert run.events() == [(1200, 1499)]
    assert run.sample_s == 60.0


def test_a_missing_label_column_is_refused(tmp_path: Path) -> None:
    write_runs(tmp_path, n_runs=1)
    with pytest.raises(CorpusError, match="no column"):
        read_csv_dir(tmp_path, ["label"])


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("1700000060,1.0,oops,0", "line 3: not a number"),
        ("1700000060,1.0", "line 3: 2 fields"),
        ("yesterday,1.0,2.0,0", "line 3: not a number or a time"),
    ],
)
def test_a_bad_row_is_refused_with_its_file_and_line(tmp_path: Path, line: str, error: str) -> None:
    (tmp_path / "run.csv").write_text(f"timestamp,load,current,fault\n1700000000,1.0,2.0,0\n{line}\n")
    with pytest.raises(CorpusError, match=error):
        read_csv_dir(tmp_path, ["fault"])


def test_an_empty_or_binary_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "run.csv").write_bytes(b"")
    with pytest.raises(CorpusError, match="empty file"):
        read_csv_dir(tmp_path, ["fault"])
    (tmp_path / "run.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CorpusError, match="not a CSV file"):
        read_csv_dir(tmp_path, ["fault"])


def test_figures_count_events_delays_false_alarms_and_exceedance() -> None:
    device = np.array([0.1, 0.95, 0.96, 0.1, 0.1, 0.1, 0.97, 0.98, 0.99, 0.1])
    label = np.array([False] * 5 + [True] * 5)
    f = figures([RunScores(device[:, None], label, 0, 3600.0)], 0.9, 2)
    assert (f.events, f.events_found, f.delay_s) == (1, 1, 7200.0)
    assert f.false_alarms_per_device_day == pytest.approx(1 / (5 * 3600 / 86400))
    assert f.precision == pytest.approx(2 / 3)
    assert f.recall == pytest.approx(2 / 5)
    assert f.exceedance["0.9"] == pytest.approx(2 / 5)


def test_bench_detect_prints_one_json_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_runs(tmp_path)
    code = detect(str(tmp_path), ["robust_ewma@spot"], 1.0, ["fault"], warmup=300, json_out=True)
    doc = orjson.loads(capsys.readouterr().out)
    (learner,) = doc["learners"]
    assert code == 0
    assert learner["learner"] == "robust_ewma@spot"
    assert learner["operating_point"]["events_found"] == 2


def test_rates_at_an_equal_false_alarm_rate_set_the_threshold_on_the_normal_run() -> None:
    rng = np.random.default_rng(5)
    normal_scores, fault_scores = rng.uniform(0, 1, 1000), rng.uniform(0.5, 1, 1000)
    normal = Run.build("d00_te", np.arange(1000.0), np.zeros(1000), ["x"], np.zeros(1000))
    fault = Run.build("d01_te", np.arange(1000.0), np.zeros(1000), ["x"], np.ones(1000))
    scored = [RunScores(normal_scores[:, None], normal.label, 0, 180.0),
              RunScores(fault_scores[:, None], fault.label, 0, 180.0)]  # fmt: skip
    rates = matched_rates([normal, fault], scored, 0.2)
    assert rates["d00_te"] == pytest.approx(0.2, abs=0.002)
    assert rates["d01_te"] == pytest.approx(0.4, abs=0.05)  # uniform on [0.5, 1] above the 0.8 quantile


def test_a_commissioned_learner_learns_the_warm_up_rows_and_no_more(tmp_path: Path) -> None:
    write_runs(tmp_path, n_runs=1)
    (run,) = read_csv_dir(tmp_path, ["fault"], warmup=300).runs
    learner = make_learner("device_pca_trained")
    score_run(learner, run)
    assert int(learner._seen[0]) == 300  # type: ignore[attr-defined]


def write_batadal(path: Path, rows: int, start_day: int, attack: range = range(0)) -> None:
    lines = ["DATETIME,L_T1,F_PU1,ATT_FLAG"]
    for i in range(rows):
        day, hour = start_day + i // 24, i % 24
        flag = 1 if i in attack else -999
        lines.append(f"{day:02d}/07/16 {hour:02d},{2 + 0.01 * i:.2f},{90 + i % 3},{flag}")
    path.write_text("\n".join(lines) + "\n")


def test_batadal_is_read_with_its_normal_year_as_the_warm_up_when_it_is_given(tmp_path: Path) -> None:
    write_batadal(tmp_path / "BATADAL_dataset04.csv", 48, 3, attack=range(30, 36))
    (alone,) = read_batadal(tmp_path / "BATADAL_dataset04.csv", warmup=10).runs
    write_batadal(tmp_path / "BATADAL_dataset03.csv", 24, 1)
    (trained,) = read_batadal(tmp_path).runs
    assert alone.metrics == ("L_T1", "F_PU1")
    assert (alone.warmup, alone.events(), alone.sample_s) == (10, [(30, 35)], 3600.0)
    assert (trained.n_rows, trained.warmup, trained.events()) == (72, 24, [(54, 59)])
    assert np.all(np.diff(trained.ts) > 0)


def test_a_file_that_is_not_batadal_is_refused(tmp_path: Path) -> None:
    write_runs(tmp_path, n_runs=1)
    with pytest.raises(CorpusError, match="DATETIME"):
        read_batadal(tmp_path / "run0.csv")


def test_a_learner_that_keeps_learning_is_not_commissioned_by_the_warm_up(tmp_path: Path) -> None:
    write_runs(tmp_path, n_runs=1)
    (run,) = read_csv_dir(tmp_path, ["fault"], warmup=300).runs
    learner = make_learner("device_pca@spot")
    score_run(learner, run)
    assert learner.inner.learn_rows is None  # type: ignore[attr-defined]
    assert int(learner.inner._seen[0]) > 300  # type: ignore[attr-defined]


def test_a_batadal_row_that_does_not_parse_is_refused_with_the_file_named(tmp_path: Path) -> None:
    path = tmp_path / "BATADAL_dataset04.csv"
    write_batadal(path, 30, 3)
    path.write_text(path.read_text() + "05/07/16 07,2.1,not-a-number,-999\n")
    with pytest.raises(CorpusError, match=r"BATADAL_dataset04\.csv: a row that is not BATADAL's format"):
        read_batadal(path)
