"""Prometheus metrics of the site, read from its store, in the text exposition format."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from edgeloop.api.deps import Store, Viewer

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(store: Store, _: Viewer) -> str:
    lines: list[str] = []

    def gauge(name: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.extend((f"# HELP edgeloop_{name} {help_text}", f"# TYPE edgeloop_{name} gauge"))
        lines.extend(f"edgeloop_{name}{labels} {value:g}" for labels, value in samples)

    gauge("devices", "devices the agent knows", [("", store.count_devices())])
    gauge("decisions", "decisions by status", [(f'{{status="{s}"}}', n) for s, n in store.count_decisions_by_status()])
    gauge("commands", "commands by ack status", [(f'{{status="{s}"}}', n) for s, n in store.count_commands_by_status()])
    gauge("approvals_pending", "decisions waiting for an operator", [("", store.count_approvals(pending_only=True))])
    gauge("quarantined", "bad inputs set aside", [("", store.count_quarantined())])
    gauge("points_stored", "telemetry points in the store", [("", store.points())])
    return "\n".join(lines) + "\n"
