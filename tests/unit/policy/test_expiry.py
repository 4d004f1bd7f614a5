"""When a pending approval expires, and what an operator is told when answering a closed one."""

from __future__ import annotations

import pytest

from edgeloop.policy.expiry import EXPIRED, NO_ANSWER_IN_TIME, expiry_reason, refusal, state_of


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("failure", "device failed"), ("repaired", "device repaired"), ("maintenance_started", "maintenance started")],
)
def test_failure_repair_and_maintenance_expire_an_approval_with_their_reason(kind: str, reason: str) -> None:
    assert expiry_reason(kind) == reason


@pytest.mark.parametrize("kind", ["inspection", "stopped", "started", "usage", ""])
def test_other_events_leave_an_approval_pending(kind: str) -> None:
    assert expiry_reason(kind) is None


def test_an_unanswered_approval_is_pending_and_an_answered_one_is_in_its_answer() -> None:
    assert state_of({"answer": None, "by": None}) == "pending"
    assert state_of({"answer": EXPIRED}) == "expired"
    assert state_of({"answer": "rejected"}) == "rejected"


def test_the_refusal_of_an_expired_approval_says_why_it_expired() -> None:
    message = refusal({"answer": EXPIRED, "by": "edgeloop", "why": "maintenance started"})
    assert message == "refused: the approval expired (maintenance started)"


def test_an_approval_expired_without_a_stored_reason_is_said_to_have_had_no_answer_in_time() -> None:
    assert refusal({"answer": EXPIRED, "by": "edgeloop", "why": None}).endswith(f"({NO_ANSWER_IN_TIME})")


def test_the_refusal_of_an_answered_approval_names_the_answer_and_who_gave_it() -> None:
    assert refusal({"answer": "approved", "by": "user ana", "why": ""}) == (
        "refused: the approval was already approved by user ana"
    )


def test_every_refusal_starts_as_the_api_and_cli_expect() -> None:  # they map "refused..." to 409 / exit 1
    for approval in (None, {"answer": None}, {"answer": EXPIRED}, {"answer": "rejected", "by": "bo"}):
        assert refusal(approval).startswith("refused: ")
