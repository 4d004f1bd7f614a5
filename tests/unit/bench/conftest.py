"""The real NAB corpus, loaded once, when it sits next to the repository."""

from __future__ import annotations

import pytest
from tests.unit.bench.builders import REAL_CORPUS

from edgeloop.bench.nab import Corpus, load_corpus


@pytest.fixture(scope="session")
def real_corpus() -> Corpus:
    if not (REAL_CORPUS / "data").is_dir():
        pytest.skip(f"the NAB corpus is not at {REAL_CORPUS}")
    return load_corpus(REAL_CORPUS)
