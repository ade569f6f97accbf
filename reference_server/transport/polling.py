"""Engine.IO long-polling over one HTTP connection: a GET waits for the session's packets, a
POST carries the client's. The rules (what a request may do, the answers) are the sans-IO
core's (``engineio.py``, ``engineio_http.py``); this is only their I/O."""

from __future__ import annotations

import contextlib

import trio

from ..engineio_http import EioError, post_status_body
from .http import BROKEN, CLOSE_TIMEOUT, Headers, HttpConnection
from .sessions import EngineConnection, Sessions


async def serve_get(conn: EngineConnection, http: HttpConnection, headers: Headers) -> EioError | None:
    """Answer a GET with the packets queued for the session (waiting for some first);
    an error to answer if the session refuses the GET."""
    try:
        body = await conn.wait_poll()
    except trio.Cancelled:
        # shutting down: answer the pending GET with CLOSE, briefly
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + CLOSE_TIMEOUT
            with contextlib.suppress(*BROKEN):
                await http.respond(200, headers, conn.shutdown_poll_body())
        raise
    if body is None:
        return EioError.BAD_REQUEST
    try:
        await http.respond(200, headers, body)
    except BROKEN:
        conn.poll_lost()  # the packets in this poll are lost: end the session, skip none
        raise
    return None


async def serve_post(
    conn: EngineConnection, sessions: Sessions, body: bytes
) -> tuple[int, bytes] | EioError:
    """Feed a POST's packets to the session; the answer (after the app caught up)."""
    core = conn.core
    poll_was_pending = core.poll_pending
    status, events = core.receive_post(body, trio.current_time())
    conn.deliver(events)
    if core.closed_by_client and not poll_was_pending:
        sessions.remember_closed_poll(conn.sid)
    if conn.backlogged:
        await conn.wait_capacity()
    return post_status_body(status)
