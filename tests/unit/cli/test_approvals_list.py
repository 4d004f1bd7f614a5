"""How `edgeloop approvals list` words an approval's state and its command."""

from __future__ import annotations

from datetime import UTC, datetime

from edgeloop.cli.approvals import command_text, state_text

EXPIRES = datetime(2026, 3, 4, 5, 6, tzinfo=UTC).timestamp()


def test_a_pending_approval_says_until_when() -> None:
    assert state_text({"answer": None, "expires": EXPIRES}) == "pending until 03-04 05:06"


def test_an_expired_approval_says_why() -> None:
    assert state_text({"answer": "expired", "by": "edgeloop", "why": "device repaired"}) == "expired: device repaired"


def test_an_answered_approval_says_by_whom_and_why() -> None:
    approval = {"answer": "rejected", "by": "ana", "why": "planned stop tonight"}
    assert state_text(approval) == "rejected by ana: planned stop tonight"
    assert state_text({**approval, "why": ""}) == "rejected by ana"


def test_a_command_is_its_name_and_arguments() -> None:
    assert command_text({"name": "schedule_maintenance", "args": {"within_h": 0.5}}) == (
        "schedule_maintenance within_h=0.5"
    )
