"""gmqtt's errors at teardown, kept out of a process's output.

When a connection gmqtt is re-opening is torn down, its own callbacks raise (`'NoneType' object has no attribute
'put_package'`, a cancelled reconnect) after the client is closed; nothing is lost, but asyncio prints each as a
traceback. The bench's agent and publisher processes, which open and close many clients under load, log them at
debug level instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def quiet_client_teardown(loop: asyncio.AbstractEventLoop) -> None:
    """Log at debug level, not as a traceback, the errors gmqtt's own callbacks raise when a connection it is
    re-opening is torn down (`'NoneType' object has no attribute 'put_package'`, a cancelled reconnect): they come
    after the client is closed and lose nothing. Any other error goes to the loop's default handler."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        tb = exc.__traceback__ if exc is not None else None
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None and f"{os.sep}gmqtt{os.sep}" in tb.tb_frame.f_code.co_filename:
            log.debug("gmqtt teardown: %s: %s", type(exc).__name__, exc)
            return
        if isinstance(exc, asyncio.CancelledError) and "reconnect" in str(context.get("message", "")):
            log.debug("gmqtt teardown: a reconnect cancelled")
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
