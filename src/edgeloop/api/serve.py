"""Serving the API and dashboard inside another program's event loop (the demo, `edgeloop serve`).

The local console's admin token is made once and kept in the site's folder (`console.token`, readable only by
the agent's user), so that each start does not mint one more admin token: it is reused until it is due to
expire within a week, then replaced (and the old one revoked).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from edgeloop.api import tokens
from edgeloop.api.app import create_app
from edgeloop.io.store import open_operator_store
from edgeloop.settings import Settings

CONSOLE_TOKEN_FILE = "console.token"
RENEW_BEFORE_S = 7 * 86_400.0


@dataclass(frozen=True)
class ConsoleToken:
    token: str
    path: Path  # where it is kept
    fresh: bool  # made now (else reused from `path`)


def console_token(settings: Settings, name: str, now: float | None = None) -> ConsoleToken:
    """The local console's admin token: the one kept in the site's folder while it lives on, else a new one.
    The site store must exist."""
    now = time.time() if now is None else now
    path = settings.agent.site_dir / CONSOLE_TOKEN_FILE
    with contextlib.closing(open_operator_store(settings)) as store:
        kept = path.read_text().strip() if path.exists() else ""
        if kept and tokens.holder(store, kept, now + RENEW_BEFORE_S) is not None:
            return ConsoleToken(kept, path, fresh=False)
        token = tokens.create(store, "admin", name, now)
        if kept and tokens.holder(store, kept, now) is not None:
            tokens.revoke(store, tokens.id_of(kept), now)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)  # a file left by an older version may have had wider rights
    return ConsoleToken(token, path, fresh=True)


@contextlib.asynccontextmanager
async def serve_api(settings: Settings, token_name: str, token: str | None = None) -> AsyncIterator[tuple[str, str]]:
    """The REST API and dashboard in this process: (URL, admin token), the token given or else the local
    console's (`console_token`). The site store must exist (open the agent first). The configured port, or any
    free one when it is taken."""
    if token is None:
        token = console_token(settings, token_name).token
    port = settings.api.port if _free(settings.api.host, settings.api.port) else 0
    config = uvicorn.Config(create_app(settings), host=settings.api.host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if task.done():
        task.result()  # raises what stopped it
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{settings.api.host}:{bound}/", token
    finally:
        server.should_exit = True
        await task


def _free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
