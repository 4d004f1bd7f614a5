"""The store as the API and the command line open it: the server's pool, the inbox, read-only reads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from edgeloop.io.store import (
    AgentStore,
    NoStoreError,
    SqliteOperatorStores,
    SqliteStore,
    StoreError,
    answer_agent,
    read_decision_at,
)

if TYPE_CHECKING:
    from tests.conftest import StoreBackend

RECORD = {"id": "d1", "device": "p1", "ts": 10.0, "at": 11.0, "score": 0.99, "status": "sent", "rule": "r"}


def agent_store(backend: StoreBackend) -> AgentStore:
    store = backend.agent_store()
    store.write_decision(RECORD)
    store.flush()
    return store


def test_the_pool_hands_out_nothing_before_the_agent_made_the_store(store_backend: StoreBackend) -> None:
    stores = store_backend.operator_stores()
    with pytest.raises(NoStoreError):
        stores.take()
    assert not store_backend.path.exists()
    stores.close()


def test_a_store_given_back_is_handed_out_again(store_backend: StoreBackend) -> None:
    agent_store(store_backend).close()
    stores = store_backend.operator_stores()
    first = stores.take()
    stores.give_back(first)
    again = stores.take()
    assert again is first
    assert again.read_decision("d1") == RECORD
    stores.give_back(again)
    stores.close()


def test_a_store_made_anew_is_read_anew(tmp_path: Path) -> None:
    path = tmp_path / "site.db"
    agent_store_at = SqliteStore(path, "s1")
    agent_store_at.write_decision(RECORD)
    agent_store_at.close()
    stores = SqliteOperatorStores(path)
    stores.give_back(stores.take())
    path.unlink()
    SqliteStore(path, "s1").close()  # a new, empty store at the same place
    assert stores.take().read_decision("d1") is None
    stores.close()


def test_an_answer_comes_back_once_the_agent_took_it(store_backend: StoreBackend) -> None:
    agent = agent_store(store_backend)
    operator = store_backend.operator_store()
    assert answer_agent(operator, "verdict", "d1", "false_alarm", "ana", "", wait_s=0.0) is None
    [(row_id, *_)] = agent.read_untaken_answers()
    agent.write_answer_taken(row_id, "recorded", 12.0)
    agent.flush()
    assert operator.read_answer_result(row_id) == "recorded"
    operator.close()
    agent.close()


def test_tokens_users_and_sessions_round_trip(store_backend: StoreBackend) -> None:
    agent_store(store_backend).close()
    operator = store_backend.operator_store()
    operator.add_token("t1", "digest", "admin", "ci", 1.0)
    assert operator.read_token("digest") == ("t1", "admin", "ci")
    assert operator.revoke_token("t1", 2.0)
    assert operator.read_token("digest") is None
    assert operator.add_user("ana", "operator", b"salt", b"key", 1.0)
    assert not operator.add_user("ana", "admin", b"salt", b"key", 1.0)
    operator.open_session("s", "ana", 1.0, 100.0)
    assert operator.read_session("s", 50.0) == ("ana", "operator")
    assert operator.delete_user("ana")
    assert operator.read_session("s", 50.0) is None
    operator.close()


def test_a_decision_is_read_without_changing_the_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "site.db", "s1")
    store.write_decision(RECORD)
    store.close()
    before = (tmp_path / "site.db").stat().st_mtime_ns
    assert read_decision_at(tmp_path / "site.db", "d1") == RECORD
    assert read_decision_at(tmp_path / "site.db", "d2") is None
    assert (tmp_path / "site.db").stat().st_mtime_ns == before


def test_a_file_that_is_no_store_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a database, " * 100)
    with pytest.raises(StoreError, match="not a database"):
        read_decision_at(tmp_path / "notes.txt", "d1")
