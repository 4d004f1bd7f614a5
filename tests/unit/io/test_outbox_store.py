"""The store's durable outbox: rows written are unsent, in order, until marked sent; on both back ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.conftest import StoreBackend


def test_outbox_rows_stay_unsent_in_order_until_marked_sent(store_backend: StoreBackend) -> None:
    store = store_backend.agent_store("s1")
    store.write_outbox([(f"m{i}", 1.0 + i, f"t/{i}", bytes([i]), 1, i % 2 == 0) for i in range(5)])
    store.write_outbox([("m0", 9.0, "t/again", b"x", 1, False)])  # the same id twice is kept once
    assert store.flush(10)
    before = store.read_unsent()

    store.mark_sent(["m0", "m3"], 10.0)
    assert store.flush(10)
    after = store.read_unsent()
    store.close()

    assert before == [(f"m{i}", f"t/{i}", bytes([i]), 1, i % 2 == 0) for i in range(5)]
    assert [row[0] for row in after] == ["m1", "m2", "m4"]


def test_outbox_rows_survive_reopening_the_store(store_backend: StoreBackend) -> None:
    store = store_backend.agent_store("s1")
    store.write_outbox([("m0", 1.0, "t", b"p", 1, True)])
    store.close()

    again = store_backend.agent_store("s1")
    unsent = again.read_unsent()
    again.close()

    assert unsent == [("m0", "t", b"p", 1, True)]


def test_acknowledged_rows_are_forgotten_once_old_enough(store_backend: StoreBackend) -> None:
    store = store_backend.agent_store("s1")
    store.write_outbox([("old", 1.0, "t", b"p", 1, False), ("new", 2.0, "t", b"p", 1, False),
                        ("open", 3.0, "t", b"p", 1, False)])  # fmt: skip
    store.mark_sent(["old"], 10.0)
    store.mark_sent(["new"], 20.0)
    store.forget_sent(15.0)
    assert store.flush(10)
    rows = store.query("SELECT id FROM outbox ORDER BY id")
    store.close()

    assert [r[0] for r in rows] == ["new", "open"]
