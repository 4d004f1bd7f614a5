"""The holdout record is logged a batch at a time and read back whole; on both back ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeloop.ledger.holdout import HoldoutDesign, HoldoutRecord

if TYPE_CHECKING:
    from tests.conftest import StoreBackend


def test_batches_logged_one_by_one_read_back_as_the_whole_record(store_backend: StoreBackend) -> None:
    design = HoldoutDesign(seed=3, fraction=0.25)
    store = store_backend.agent_store("s1")
    assert store.read_holdout() is None
    record = HoldoutRecord(3, 0.25)
    for batch in range(5):
        first = len(record.assignments)
        record = design.assign({f"pump-{batch}-{i}": "pump" for i in range(7)}, record)
        store.write_holdout(record.logged(first), float(batch))
    assert store.flush(10)
    read = store.read_holdout()
    store.close()

    assert read == record.to_json()
    assert HoldoutRecord.from_json(read) == record


def test_a_record_logged_whole_by_an_earlier_version_is_continued(store_backend: StoreBackend) -> None:
    design = HoldoutDesign(seed=3)
    store = store_backend.agent_store("s1")
    old = design.assign({"m1": "motor"})
    store.write_holdout(design.assign({"m0": "motor"}).to_json(), 0.0)  # an older whole record, superseded
    store.write_holdout(old.to_json(), 1.0)  # the whole record, as earlier versions logged it
    new = design.assign({"m2": "motor", "m3": "motor"}, old)
    store.write_holdout(new.logged(1), 2.0)
    assert store.flush(10)
    read = store.read_holdout()
    store.close()

    assert read == new.to_json()
