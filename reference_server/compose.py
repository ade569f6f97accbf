"""The composition root: builds the reference server from its settings and runs it.

Everything is built here, in dependency order, and handed what it needs at construction: the
store, the rules, the verifier, the sockets registry (the app's route out), the app, the HTTP
API, the Socket.IO server. Nothing imports in a circle and nothing is wired afterwards.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio
from taskchat.reference_server.app import ChatApp
from taskchat.reference_server.auth import Verifier
from taskchat.reference_server.chat import ChatRules
from taskchat.reference_server.config import ServerConfig
from taskchat.reference_server.http_api import HttpApi
from taskchat.reference_server.socketio_server import SocketIOServer, Sockets
from taskchat.reference_server.store import Store

log = logging.getLogger("taskchat.server")


@dataclass(frozen=True)
class Server:
    app: ChatApp
    sockets: Sockets
    socketio: SocketIOServer


def build(config: ServerConfig) -> Server:
    """The server's parts, not yet serving (tests use it to reach them)."""
    store = Store(config.db, synchronous=config.db_sync)
    rules = ChatRules(
        store,
        tasks=store.load_tasks(),
        typing_timeout=config.typing_timeout,
        rate_limit=config.rate_limit,
        rate_window=config.rate_window,
    )
    verifier = Verifier(secret=config.jwt_secret, public_key=config.jwt_public_key)
    sockets = Sockets()
    app = ChatApp(config, store, rules, verifier, sockets)
    socketio = SocketIOServer(config.transport, sockets, app, HttpApi(app))
    return Server(app, sockets, socketio)


async def run_server(
    config: ServerConfig, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve until cancelled; ``task_status.started(bound_port)`` once listening.

    On cancellation the transport closes its sessions, a commit in flight finishes (worker
    threads are not abandoned) and whatever is still queued is committed before the store
    closes: nothing submitted is lost.
    """
    if config.protocol_test_mode:
        from taskchat.reference_server.testmode import serve_test_mode

        await serve_test_mode(config.host, config.port, task_status=task_status)
        return
    server = build(config)
    app = server.app
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(app.store.run_committer, app.drain)
            nursery.start_soon(app.typing_loop)
            port: int = await nursery.start(server.socketio.serve)
            log.info("event=listening host=%s port=%d db=%s", config.host, port, config.db)
            task_status.started(port)
    finally:
        app.store.close()


async def serve_until_signal(config: ServerConfig, on_ready: Callable[[int], Any]) -> None:
    """``run_server`` until SIGINT or SIGTERM, then shut down (well within 2 s)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(run_server, config)
            on_ready(port)
            async for signum in signals:
                log.info("event=shutdown signal=%s", signal.Signals(signum).name)
                break
            # the transport closes every session; a commit in flight still finishes
            nursery.cancel_scope.cancel()
