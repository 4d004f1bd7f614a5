"""Serving the API and dashboard inside another program's event loop (the demo, `edgeloop serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import uvicorn

from edgeloop.api import tokens
from edgeloop.api.app import create_app
from edgeloop.io.store import open_operator_store
from edgeloop.settings import Settings


@contextlib.asynccontextmanager
async def serve_api(settings: Settings, token_name: str) -> AsyncIterator[tuple[str, str]]:
    """The REST API and dashboard in this process, with a fresh admin token: (URL, token). The site store
    must exist (open the agent first). The configured port, or any free one when it is taken."""
    with contextlib.closing(open_operator_store(settings)) as store:
        token = tokens.create(store, "admin", token_name, time.time())
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
