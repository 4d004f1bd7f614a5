"""NAB's results layout: paths, columns, and scores that read back unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeloop.bench.nab import Corpus, DataFile, read_results, write_results


@pytest.fixture
def corpus() -> Corpus:
    ts = np.array(["2014-07-01T00:00:00", "2014-07-01T00:30:00", "2014-07-01T01:00:00"], dtype="datetime64[s]")
    f = DataFile.build("realKnownCause/nyc_taxi.csv", [10844.0, 8127.0, 6210.0], windows=[(1, 2)], timestamps=ts)
    return Corpus(files=(f,), profiles={})


def test_results_go_where_nab_looks_with_its_columns(corpus: Corpus, tmp_path: Path) -> None:
    [path] = write_results(corpus, "mine", {"realKnownCause/nyc_taxi.csv": np.array([0.5, 0.1, 1.0])}, tmp_path)
    assert path == tmp_path / "mine" / "realKnownCause" / "mine_nyc_taxi.csv"
    assert path.read_text().splitlines() == [
        "timestamp,value,anomaly_score,label",
        "2014-07-01 00:00:00,10844.0,0.5,0",
        "2014-07-01 00:30:00,8127.0,0.1,1",
        "2014-07-01 01:00:00,6210.0,1.0,1",
    ]


def test_scores_read_back_bit_for_bit(corpus: Corpus, tmp_path: Path) -> None:
    scores = np.random.default_rng(1).random(3)
    write_results(corpus, "mine", {"realKnownCause/nyc_taxi.csv": scores}, tmp_path)
    assert read_results(corpus, "mine", tmp_path)["realKnownCause/nyc_taxi.csv"].tolist() == scores.tolist()


@pytest.mark.parametrize("name", ["rolling_z", "a/b", ""])
def test_a_name_nab_cannot_parse_is_rejected(corpus: Corpus, tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="letters and digits"):
        write_results(corpus, name, {"realKnownCause/nyc_taxi.csv": np.zeros(3)}, tmp_path)
