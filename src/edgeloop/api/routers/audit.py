"""The audit log's check: does the chain hold, and if not, where it breaks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from edgeloop.api.deps import Viewer, settings_of
from edgeloop.audit import LOG_FILE, PUBLIC_KEY_FILE, load_public_key, verify_file

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/verify")
def verify(request: Request, _: Viewer) -> dict[str, Any]:
    directory = settings_of(request).agent.audit_dir
    if not (directory / LOG_FILE).exists():
        raise HTTPException(404, "no audit log yet")
    report = verify_file(directory / LOG_FILE, load_public_key(directory / PUBLIC_KEY_FILE))
    return {"ok": report.ok, "records": report.records, "checkpoints": report.checkpoints,
            "first_bad": report.first_bad, "problem": report.problem}  # fmt: skip
