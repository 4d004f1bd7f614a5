"""Decisions: what the agent concluded, with its rule, status, reason and every guardrail it checked; one
decision also comes with its audit record, checked (hash intact, signed by the site's key), its command and
any verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, HTTPException, Request

from edgeloop.api.deps import Store, Viewer, settings_of
from edgeloop.api.pages import Paged
from edgeloop.api.routers.audit import trusted_key
from edgeloop.audit import LOG_FILE, AuditError, Kind, Record, RecordError

router = APIRouter(prefix="/decisions", tags=["decisions"])


@router.get("")
def list_decisions(
    store: Store, _: Viewer, page: Paged, device: str | None = None, status: str | None = None
) -> dict[str, Any]:
    """Newest first; filter by device and status (sent, held_out, blocked, pending_approval, ...)."""
    total = store.count_decisions(device, status)
    return page.answer(total, store.read_newest_decisions(page.limit, page.offset, device, status))


def audit_entry(
    directory: Path, decision_id: str, stored: dict[str, Any], key: Ed25519PublicKey | None = None
) -> dict[str, Any] | None:
    """The decision's record in the audit log and its check: its hash is intact, it is signed by the site's
    trusted `key` (never merely the key file beside the log: without a trusted key, `signed` is false), and it
    says what the store says. None when the log does not hold it."""
    path = directory / LOG_FILE
    if not path.exists():
        return None
    needle = b'"id":"' + decision_id.encode() + b'"'
    with path.open("rb") as f:
        for line in f:
            if needle not in line:
                continue
            try:
                record = Record.from_line(line)
            except RecordError:
                continue
            if record.kind != Kind.DECISION or record.body.get("id") != decision_id:
                continue
            signed = record.signed_by(key) if key is not None else False
            matches = dict(record.body) == stored
            return {"seq": record.seq, "ts": record.ts, "prev": record.prev, "hash": record.hash, "sig": record.sig,
                    "intact": record.intact(), "signed": signed, "matches_store": matches}  # fmt: skip
    return None


@router.get("/{decision_id}")
def get_decision(decision_id: str, request: Request, store: Store, _: Viewer) -> dict[str, Any]:
    record = store.read_decision(decision_id)
    if record is None:
        raise HTTPException(404, f"no decision {decision_id}")
    cfg = settings_of(request).agent
    try:
        key: Ed25519PublicKey | None = trusted_key(cfg).key
    except AuditError:
        key = None
    audit = audit_entry(cfg.audit_dir, decision_id, record, key)
    return {
        **record,
        "audit": audit,
        "commands": store.read_commands_of(decision_id),
        "verdicts": store.read_verdicts_of(decision_id),
    }
