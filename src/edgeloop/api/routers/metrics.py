"""Prometheus metrics of the site, read from its store, in the text exposition format."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from edgeloop.api.deps import Store, Viewer

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(conn: Store, _: Viewer) -> str:
    lines: list[str] = []

    def gauge(name: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.extend((f"# HELP edgeloop_{name} {help_text}", f"# TYPE edgeloop_{name} gauge"))
        lines.extend(f"edgeloop_{name}{labels} {value:g}" for labels, value in samples)

    gauge("devices", "devices the agent knows", [("", conn.execute("SELECT COUNT(*) FROM devices").fetchone()[0])])
    statuses = conn.execute("SELECT status, COUNT(*) FROM decisions GROUP BY status").fetchall()
    gauge("decisions", "decisions by status", [(f'{{status="{s}"}}', n) for s, n in statuses])
    acks = conn.execute("SELECT status, COUNT(*) FROM commands GROUP BY status").fetchall()
    gauge("commands", "commands by ack status", [(f'{{status="{s}"}}', n) for s, n in acks])
    pending = conn.execute("SELECT COUNT(*) FROM approvals WHERE answer IS NULL").fetchone()[0]
    gauge("approvals_pending", "decisions waiting for an operator", [("", pending)])
    gauge("quarantined", "bad inputs set aside", [("", conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])])
    points = conn.execute("SELECT COALESCE(SUM(n), 0) FROM telemetry").fetchone()[0]
    gauge("points_stored", "telemetry points in the store", [("", points)])
    return "\n".join(lines) + "\n"
