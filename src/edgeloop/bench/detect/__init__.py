"""`edgeloop bench detect`: learners on labelled multivariate corpora (NAB, Tennessee Eastman, CSV folders)."""

from edgeloop.bench.detect.corpus import Corpus, Run, read_csv_dir, read_nab, read_tep
from edgeloop.bench.detect.run import detect

__all__ = ["Corpus", "Run", "detect", "read_csv_dir", "read_nab", "read_tep"]
