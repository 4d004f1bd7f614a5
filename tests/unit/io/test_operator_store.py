"""The store as the API and the command line open it: the server's pool, the inbox, read-only reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeloop.io.store import (
    NoStoreError,
    SqliteOperatorStore,
    SqliteOperatorStores,
    SqliteStore,
    StoreError,
    answer_agent,
    read_decision_at,
)

RECORD = {"id": "d1", "device": "p1", "ts": 10.0, "at": 11.0, "score": 0.99, "status": "sent", "rule": "r"}


def agent_store(path: Path) -> SqliteStore:
    store = SqliteStore(path, "s1")
    store.write_decision(RECORD)
    store.flush()
    return store


def test_the_pool_hands_out_nothing_before_the_agent_made_the_store(tmp_path: Path) -> None:
    stores = SqliteOperatorStores(tmp_path / "site.db")
    with pytest.raises(NoStoreError):
        stores.take()
    assert not (tmp_path / "site.db").exists()


def test_a_store_given_back_is_handed_out_again(tmp_path: Path) -> None:
    agent_store(tmp_path / "site.db").close()
    stores = SqliteOperatorStores(tmp_path / "site.db")
    first = stores.take()
    stores.give_back(first)
    assert stores.take() is first
    stores.close()


def test_a_store_made_anew_is_read_anew(tmp_path: Path) -> None:
    path = tmp_path / "site.db"
    agent_store(path).close()
    stores = SqliteOperatorStores(path)
    stores.give_back(stores.take())
    path.unlink()
    SqliteStore(path, "s1").close()  # a new, empty store at the same place
    assert stores.take().read_decision("d1") is None
    stores.close()


def test_an_answer_comes_back_once_the_agent_took_it(tmp_path: Path) -> None:
    agent = agent_store(tmp_path / "site.db")
    with SqliteOperatorStore.open(tmp_path / "site.db") as operator:
        assert answer_agent(operator, "verdict", "d1", "false_alarm", "ana", "", wait_s=0.0) is None
        [(row_id, *_)] = agent.read_untaken_answers()
        agent.write_answer_taken(row_id, "recorded", 12.0)
        agent.flush()
        assert operator.read_answer_result(row_id) == "recorded"
    agent.close()


def test_a_decision_is_read_without_changing_the_file(tmp_path: Path) -> None:
    agent_store(tmp_path / "site.db").close()
    before = (tmp_path / "site.db").stat().st_mtime_ns
    assert read_decision_at(tmp_path / "site.db", "d1") == RECORD
    assert read_decision_at(tmp_path / "site.db", "d2") is None
    assert (tmp_path / "site.db").stat().st_mtime_ns == before


def test_a_file_that_is_no_store_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a database, " * 100)
    with pytest.raises(StoreError, match="not a database"):
        read_decision_at(tmp_path / "notes.txt", "d1")
