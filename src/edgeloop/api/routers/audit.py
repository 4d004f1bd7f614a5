"""The audit log: its check (does the chain hold, and if not, where it breaks) and its newest records."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from edgeloop.api.deps import Viewer, settings_of
from edgeloop.api.pages import Paged
from edgeloop.audit import LOG_FILE, AuditError, verify_file
from edgeloop.audit.trust import TrustAnchor, trust_anchor
from edgeloop.settings import AgentSettings

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/verify")
async def verify(request: Request, _: Viewer) -> dict[str, Any]:
    """Every record's hash, signature and link to the one before, and every checkpoint."""
    cfg = settings_of(request).agent
    if not (cfg.audit_dir / LOG_FILE).exists():
        raise HTTPException(404, "no audit log yet")
    try:
        anchor = trusted_key(cfg)
    except AuditError as exc:
        return {"ok": False, "records": 0, "checkpoints": 0, "first_bad": None, "problem": str(exc), "trust": None}
    report = await run_in_threadpool(verify_file, cfg.audit_dir / LOG_FILE, anchor.key)
    return {"ok": report.ok, "records": report.records, "checkpoints": report.checkpoints,
            "first_bad": report.first_bad, "problem": report.problem,
            "trust": {"source": anchor.source, "fingerprint": anchor.fingerprint}}  # fmt: skip


def trusted_key(cfg: AgentSettings) -> TrustAnchor:
    """The key the site's log is verified with: the settings' fingerprint, else the pin (never the file alone)."""
    source = "the fingerprint in the settings (agent.audit_fingerprint)"
    return trust_anchor(cfg.audit_dir, None, cfg.audit_fingerprint, cfg.audit_pins, fingerprint_source=source)


@router.get("/head")
def head(request: Request, _: Viewer) -> dict[str, Any]:
    """The log's latest signed head, as the agent published it (also retained on `_agent/audit/head`).

    Keep a copy: `edgeloop audit verify --checkpoint FILE` later proves no record before it was cut."""
    path = settings_of(request).agent.audit_head_path
    try:
        doc: dict[str, Any] = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise HTTPException(404, "no signed head published yet") from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise HTTPException(500, f"the signed head cannot be read: {exc}") from None
    return doc


@router.get("/records")
def records(request: Request, _: Viewer, page: Paged) -> dict[str, Any]:
    """The log's records, newest first, as written (seq, ts, kind, body, prev, hash, sig); not checked here."""
    path = settings_of(request).agent.audit_dir / LOG_FILE
    if not path.exists():
        raise HTTPException(404, "no audit log yet")
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    newest_first = lines[::-1][page.offset : page.offset + page.limit]
    items = []
    for line in newest_first:
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            items.append({"unreadable": line[:200].decode("utf-8", "replace")})
    return page.answer(len(lines), items)
