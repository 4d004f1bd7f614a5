"""How `edgeloop approvals list` words an approval's state and its command."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer

from edgeloop.cli.approvals import _by_prefix, command_text, state_text

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


class _Approvals:
    """The one store method `_by_prefix` reads (newest first), over fixed rows."""

    def __init__(self, *ids: str) -> None:
        self.rows = [{"decision": i, "answer": None} for i in ids]

    def read_approvals(self, pending_only: bool, limit: int, offset: int) -> list[dict[str, object]]:
        return self.rows[offset : offset + limit]


def test_a_shortened_id_finds_its_approval_or_says_why_not(capsys: pytest.CaptureFixture[str]) -> None:
    store = _Approvals("3f2a9c01aa", "3f2a9c02bb", "77e0d1c4cc")

    assert _by_prefix(store, "77e0d1c4")["decision"] == "77e0d1c4cc"  # type: ignore[arg-type, index]
    assert _by_prefix(store, "999999") is None  # type: ignore[arg-type]
    with pytest.raises(typer.Exit):
        _by_prefix(store, "3f2a9c")  # type: ignore[arg-type]
    assert "2 approvals start with '3f2a9c' (3f2a9c01aa, 3f2a9c02bb): give more of the id" in _said(capsys)
    with pytest.raises(typer.Exit):
        _by_prefix(store, "3f2a")  # type: ignore[arg-type]
    assert "needs at least 6 characters" in _said(capsys)


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    return " ".join(capsys.readouterr().err.split())  # the console wraps its lines
