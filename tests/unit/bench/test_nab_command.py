"""`edgeloop bench nab` on a small hand-made corpus: table, JSON, plots and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
import typer
from typer.testing import CliRunner

from edgeloop.bench.nab import load_corpus
from edgeloop.bench.nab.evaluate import Interleaved, run_pointwise
from edgeloop.cli.bench import nab_command
from edgeloop.learn.catalog import DEFAULT, LEARNERS

PROFILES = {
    name: {"CostMatrix": {"tpWeight": 1.0, "fnWeight": fn, "fpWeight": fp, "tnWeight": 1.0}}
    for name, fp, fn in (("standard", 0.11, 1.0), ("reward_low_FP_rate", 0.22, 1.0), ("reward_low_FN_rate", 0.11, 2.0))
}
START = np.datetime64("2015-03-01T00:00:00")


def write_file(root: Path, name: str, values: np.ndarray) -> list[str]:
    stamps = START + np.arange(values.shape[0]) * np.timedelta64(300, "s")
    text = "timestamp,value\n" + "".join(
        f"{str(t).replace('T', ' ')},{v:.4f}\n" for t, v in zip(stamps, values, strict=True)
    )
    path = root / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return [str(t).replace("T", " ") + ".000000" for t in stamps]


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three short files: a spike, a level shift, and one without anomalies."""
    root = tmp_path_factory.mktemp("nab")
    rng = np.random.default_rng(1)
    spike = 10 + rng.normal(0, 1, 400)
    spike[300] += 20
    shift = 5 + rng.normal(0, 0.5, 300)
    shift[200:] += 8
    windows = {}
    stamps = write_file(root, "realA/spike.csv", spike)
    windows["realA/spike.csv"] = [[stamps[290], stamps[310]]]
    stamps = write_file(root, "realA/shift.csv", shift)
    windows["realA/shift.csv"] = [[stamps[190], stamps[215]]]
    write_file(root, "realB/quiet.csv", 3 + rng.normal(0, 1, 250))
    windows["realB/quiet.csv"] = []
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_bytes(orjson.dumps(windows))
    (root / "config").mkdir()
    (root / "config" / "profiles.json").write_bytes(orjson.dumps(PROFILES))
    return root


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    cli = typer.Typer()
    cli.command("nab")(nab_command)
    cli.callback()(lambda: None)
    return cli


def test_json_lists_every_detector_in_three_profiles_and_marks_the_default(app: typer.Typer, corpus_dir: Path) -> None:
    args = ["nab", "--data", str(corpus_dir), "--json", "--hst-rows", "50", "--wide", "4", "--wide-rows", "50"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = {r["detector"]: r for r in orjson.loads(result.stdout)}
    assert set(rows) == {"null", "random", "river_half_space_trees", *LEARNERS}
    assert [name for name, r in rows.items() if r["default"]] == [DEFAULT]
    for name in ("null", "random", *LEARNERS):
        assert {"standard", "reward_low_FP", "reward_low_FN", "points_per_s"} <= rows[name].keys()
        assert rows[name]["standard"] <= 100.0
    assert rows["null"]["standard"] == 0.0
    assert all(rows[name]["points_per_s"] > 0 and rows[name]["batch_equals_pointwise"] for name in LEARNERS)
    assert all(rows[name]["points_per_s_wide"] > 0 for name in LEARNERS)
    assert rows["river_half_space_trees"]["default_speedup"] > 0


def test_the_table_names_the_default_and_the_published_scores(app: typer.Typer, corpus_dir: Path) -> None:
    result = CliRunner().invoke(app, ["nab", "--data", str(corpus_dir), "--learner", DEFAULT, "--hst-rows", "0",
                                      "--wide", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{DEFAULT} (default)" in result.stdout
    assert "ARTime" in result.stdout


def test_plot_writes_one_png_per_series(app: typer.Typer, corpus_dir: Path, tmp_path: Path) -> None:
    args = ["nab", "--data", str(corpus_dir), "--learner", DEFAULT, "--hst-rows", "0", "--wide", "0", "--json",
            "--plot", str(tmp_path), "--series", "spike", "--series", "realA/shift.csv"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shift.png", "spike.png"]


def test_an_unknown_series_or_learner_is_refused(app: typer.Typer, corpus_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    unknown_series = runner.invoke(app, ["nab", "--data", str(corpus_dir), "--plot", str(tmp_path), "--series", "x"])
    unknown_learner = runner.invoke(app, ["nab", "--data", str(corpus_dir), "--learner", "nope"])
    assert (unknown_series.exit_code, unknown_learner.exit_code) == (2, 2)


def test_a_missing_corpus_is_refused(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["nab", "--data", str(tmp_path)])
    assert result.exit_code == 2


def test_the_interleaved_stream_gives_each_file_its_point_by_point_scores(corpus_dir: Path) -> None:
    corpus = load_corpus(corpus_dir)
    make = LEARNERS[DEFAULT]
    batch, _ = Interleaved(corpus).run(make())
    pointwise = run_pointwise(corpus, make, -1)
    for name in corpus.names:
        np.testing.assert_array_equal(batch[name], pointwise[name])
