"""What every answer of the API carries to protect the browser that shows it, and what the logs must not hold.

`security_headers` adds a content security policy that runs only the site's own script files (no inline
script or style, nothing from elsewhere) and forbids framing, plus nosniff and no referrer. `RedactSecrets`
blanks secrets that a client put in a URL's query string (`?access_token=...`) before the access log prints it.

>>> redact("/api/v1/events?access_token=el_ab_cd&limit=5")
'/api/v1/events?access_token=REDACTED&limit=5'
>>> redact("/api/v1/decisions?limit=5")
'/api/v1/decisions?limit=5'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # data: for the page's empty icon and the OpenAPI page's own images
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",  # for browsers that do not know frame-ancestors
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


_SECRET = re.compile(r"(?i)([?&](?:access_token|token|password|secret|api_key|key)=)[^&#\s]*")


def redact(text: str) -> str:
    return _SECRET.sub(r"\1REDACTED", text)


class RedactSecrets(logging.Filter):
    """On uvicorn's access log: its record's arguments are (client, method, path with query, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def redact_access_log(logger: logging.Logger | None = None) -> None:
    """Put `RedactSecrets` on uvicorn's access log (once)."""
    target = logger or logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecrets) for f in target.filters):
        target.addFilter(RedactSecrets())
