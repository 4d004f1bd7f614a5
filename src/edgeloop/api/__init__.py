"""The REST API (OpenAPI at /docs): decisions, approvals, verdicts, ROI and the audit check, with roles."""

from edgeloop.api.app import create_app
from edgeloop.api.deps import Role

__all__ = ["Role", "create_app"]
