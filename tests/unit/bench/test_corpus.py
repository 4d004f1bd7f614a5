"""Loading the corpus: the real one's figures, and clear errors on a broken one."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from tests.unit.bench.builders import REAL_CORPUS

from edgeloop.bench.nab import Corpus, CorpusError, DataFile, load_corpus, probation_length


def test_the_real_corpus_has_the_documented_shape(real_corpus: Corpus) -> None:
    files = real_corpus.files
    assert (len(files), real_corpus.n_rows, real_corpus.n_windows) == (58, 365_558, 116)
    assert sum(f.probation for f in files) == 32_716
    assert sum(int(f.in_window().sum()) for f in files) == 33_495
    assert sum(f.probation == 750 for f in files) == 15


def test_window_edges_map_to_the_rows_with_those_timestamps(real_corpus: Corpus) -> None:
    taxi = real_corpus.file("realKnownCause/nyc_taxi.csv")
    start, end = taxi.windows[0]
    assert str(taxi.timestamps[start]) == "2014-10-30T15:30:00"
    assert str(taxi.timestamps[end]) == "2014-11-03T22:30:00"
    assert taxi.values.dtype == np.float64


@pytest.mark.parametrize(("n", "expected"), [(1127, 169), (4032, 604), (5000, 750), (22695, 750)])
def test_probation_is_15_percent_capped_at_750(n: int, expected: int) -> None:
    assert probation_length(n) == expected


def test_a_missing_corpus_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=str(tmp_path / "nowhere")):
        load_corpus(tmp_path / "nowhere")


def copy_of_corpus(tmp_path: Path) -> Path:
    if not (REAL_CORPUS / "data").is_dir():
        pytest.skip(f"the NAB corpus is not at {REAL_CORPUS}")
    root = tmp_path / "nab"
    shutil.copytree(REAL_CORPUS / "labels", root / "labels")
    shutil.copytree(REAL_CORPUS / "config", root / "config")
    shutil.copytree(REAL_CORPUS / "data" / "realAdExchange", root / "data" / "realAdExchange")
    (root / "labels" / "combined_windows.json").write_text(
        '{"realAdExchange/exchange-2_cpc_results.csv": [["2011-07-11 04:00:01.000000", "2011-07-17 22:00:01.000000"]],'
        ' "realAdExchange/exchange-2_cpm_results.csv": [["2011-07-24 14:00:01.000000", "2011-07-27 22:00:01.000000"]],'
        ' "realAdExchange/exchange-3_cpc_results.csv": [], "realAdExchange/exchange-3_cpm_results.csv": [],'
        ' "realAdExchange/exchange-4_cpc_results.csv": [], "realAdExchange/exchange-4_cpm_results.csv": []}'
    )
    return root


def test_a_partial_corpus_loads_from_any_folder(tmp_path: Path) -> None:
    corpus = load_corpus(copy_of_corpus(tmp_path))
    assert (len(corpus.files), corpus.n_windows) == (6, 2)
    assert corpus.file("realAdExchange/exchange-2_cpc_results.csv").windows.tolist() == [[244, 406]]


def test_a_window_edge_missing_from_the_data_is_rejected(tmp_path: Path) -> None:
    root = copy_of_corpus(tmp_path)
    windows = root / "labels" / "combined_windows.json"
    windows.write_text(windows.read_text().replace("2011-07-11 04:00:01", "2011-07-11 04:00:02"))
    with pytest.raises(CorpusError, match=r"2011-07-11 04:00:02\.000000 is not a timestamp"):
        load_corpus(root)


def test_a_data_file_without_windows_entry_is_rejected(tmp_path: Path) -> None:
    root = copy_of_corpus(tmp_path)
    (root / "data" / "realAdExchange" / "extra.csv").write_text("timestamp,value\n2011-01-01 00:00:00,1\n")
    with pytest.raises(CorpusError, match=r"extra\.csv"):
        load_corpus(root)


def test_a_bad_data_line_is_rejected_with_its_line_number(tmp_path: Path) -> None:
    root = copy_of_corpus(tmp_path)
    path = root / "data" / "realAdExchange" / "exchange-3_cpc_results.csv"
    lines = path.read_text().splitlines()
    lines[5] = lines[5] + ",7"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusError, match="line 6 does not have two fields"):
        load_corpus(root)


@pytest.mark.parametrize(
    ("windows", "reason"), [([(5, 5)], "at least two rows"), ([(5, 9), (9, 12)], "overlap"), ([(5, 40)], "outside")]
)
def test_bad_windows_are_rejected(windows: list[tuple[int, int]], reason: str) -> None:
    with pytest.raises(CorpusError, match=reason):
        DataFile.build("c/f.csv", np.zeros(20), windows=windows)
