"""``taskchat serve``, ``taskchat token`` and ``taskchat demo``.

Light to import on purpose: the ``taskchat`` entry point imports every part's ``register``, so
trio, the store and the transport are imported inside the ``run`` functions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ENV_SECRET = "TASKCHAT_JWT_SECRET"


def register(sub: Any) -> None:
    from taskchat.reference_server.config import LOG_LEVELS, ServerConfig

    d = ServerConfig()  # one place for the defaults: the settings object itself
    serve = sub.add_parser(
        "serve", help="run the reference server",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    serve.add_argument("--host", default=d.host, help="address to listen on")
    serve.add_argument("--port", type=int, default=d.port, help="TCP port; 0 picks a free port")
    serve.add_argument("--db", default=d.db, help="SQLite file, or :memory: (keeps nothing)")
    serve.add_argument("--jwt-secret", default=None, help=f"HS256 secret (or ${ENV_SECRET})")
    serve.add_argument("--jwt-public-key", metavar="FILE", default=None, help="RS256 PEM key")
    serve.add_argument("--ping-interval", type=float, default=d.ping_interval, metavar="SECONDS",
                       help="Engine.IO heartbeat: how often the server pings")
    serve.add_argument("--ping-timeout", type=float, default=d.ping_timeout, metavar="SECONDS",
                       help="how long the server waits for a pong before closing")
    serve.add_argument("--max-payload", type=int, default=d.max_payload, metavar="BYTES",
                       help="largest message (and HTTP body) a client may send")
    serve.add_argument("--rate-limit", type=int, default=d.rate_limit, metavar="COUNT",
                       help="send/edit/delete per user per window; 0 switches the limit off")
    serve.add_argument("--rate-window", type=float, default=d.rate_window, metavar="SECONDS",
                       help="the rate limit's window")
    serve.add_argument("--typing-timeout", type=float, default=d.typing_timeout,
                       metavar="SECONDS", help="typing stops this long after the last typing_start")
    serve.add_argument(
        "--db-sync", choices=("full", "normal"), default=d.db_sync.lower(),
        help="full: a commit survives a power cut; normal: it survives a killed process",
    )
    serve.add_argument("--log-level", default=d.log_level, choices=LOG_LEVELS,
                       help="log to stderr from this level up")
    serve.add_argument(
        "--protocol-test-mode", action="store_true",
        help="serve the bare Socket.IO test mode (no chat, no auth) for transport checks",
    )
    serve.add_argument("--ready-file", metavar="PATH", default=None,
                       help='when listening, write {"url", "pid"} JSON here (atomically)')
    serve.set_defaults(func=run_serve)

    token = sub.add_parser("token", help="print a user token signed with the server's secret")
    token.add_argument("--sub", required=True, help="the user id")
    token.add_argument("--name", default=None, help="the display name")
    token.add_argument("--admin", action="store_true", help='add "admin": true')
    token.add_argument("--ttl", type=float, default=3600.0, metavar="SECONDS",
                       help="lifetime (default 3600); 0 = no exp claim")
    token.add_argument("--jwt-secret", default=None, help=f"(or ${ENV_SECRET})")
    token.set_defaults(func=run_token)

    demo = sub.add_parser("demo", help="create a demo task on a running server, print tokens")
    demo.add_argument("--url", default="http://127.0.0.1:9553")
    demo.add_argument("--jwt-secret", default=None, help=f"(or ${ENV_SECRET})")
    demo.add_argument("--task-id", default=None)
    demo.set_defaults(func=run_demo)


def _secret(args: argparse.Namespace) -> str | None:
    return args.jwt_secret or os.environ.get(ENV_SECRET) or None


def run_serve(args: argparse.Namespace) -> int:
    import logging

    import trio
    from taskchat.reference_server.compose import serve_until_signal
    from taskchat.reference_server.config import ConfigError, ServerConfig

    secret = _secret(args)
    public_key = None
    if args.jwt_public_key:
        try:
            public_key = Path(args.jwt_public_key).read_text()
        except OSError as exc:
            print(f"taskchat: cannot read --jwt-public-key: {exc}", file=sys.stderr)
            return 2
    if not secret and not public_key and not args.protocol_test_mode:
        print(
            f"taskchat: no JWT key: pass --jwt-secret, set {ENV_SECRET}, or pass --jwt-public-key",
            file=sys.stderr,
        )
        return 2
    try:
        config = ServerConfig(
            host=args.host, port=args.port, db=args.db, jwt_secret=secret,
            jwt_public_key=public_key, ping_interval=args.ping_interval,
            ping_timeout=args.ping_timeout, max_payload=args.max_payload,
            rate_limit=args.rate_limit, rate_window=args.rate_window,
            typing_timeout=args.typing_timeout, log_level=args.log_level,
            protocol_test_mode=args.protocol_test_mode, db_sync=args.db_sync.upper(),
        )
    except ConfigError as exc:
        print(f"taskchat: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr,
        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )

    def ready(port: int) -> None:
        host = "127.0.0.1" if args.host in ("", "0.0.0.0", "::") else args.host
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        if args.ready_file:
            _write_atomically(Path(args.ready_file), {"url": url, "pid": os.getpid()})
        print(f"taskchat: listening on {url}", flush=True)

    import sqlite3

    try:
        trio.run(serve_until_signal, config, ready)
    except Exception as exc:
        # trio wraps start-up failures in exception groups: say what went wrong in one line
        cause = _leaf(exc, (OSError, sqlite3.Error))
        if isinstance(cause, sqlite3.Error):
            print(f"taskchat: cannot use the database {args.db!r}: {cause}", file=sys.stderr)
        elif isinstance(cause, OSError):
            print(f"taskchat: cannot listen on {args.host}:{args.port}: {cause}", file=sys.stderr)
        else:
            raise
        return 1
    return 0


def _leaf(exc: BaseException, types: tuple[type[BaseException], ...]) -> BaseException | None:
    if isinstance(exc, types):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            found = _leaf(sub, types)
            if found is not None:
                return found
    return None


def _write_atomically(path: Path, data: dict[str, object]) -> None:
    """Readers poll for the file: they must never see it half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def run_token(args: argparse.Namespace) -> int:
    from taskchat.reference_server.auth import make_token

    secret = _secret(args)
    if not secret:
        print(f"taskchat: pass --jwt-secret or set {ENV_SECRET}", file=sys.stderr)
        return 2
    ttl = args.ttl if args.ttl > 0 else None
    print(make_token(secret, args.sub, name=args.name, admin=args.admin, ttl=ttl))
    return 0


_DEMO_USERS = (("owner", "Olivia Owner"), ("admin", "Adam Admin"), ("member", "Mia Member"),
               ("viewer", "Victor Viewer"))

_SNIPPET = """\
// npm install socket.io-client
import {{ io }} from "socket.io-client";
const socket = io("{url}", {{ auth: {{ token: "{token}" }}, transports: ["websocket", "polling"] }});
socket.on("connect_error", (err) => console.error(err.message, err.data));
socket.on("new_message", ({{ message }}) => console.log(message.first_name, message.message));
socket.emit("join_task", "{task}", (ack) => {{
  console.log("online:", ack.onlineUsers);
  socket.emit("send_message", {{ taskId: "{task}", message: "Hello!" }}, console.log);
}});
"""


def run_demo(args: argparse.Namespace) -> int:
    import uuid

    import requests
    from taskchat.reference_server.auth import make_token

    secret = _secret(args)
    if not secret:
        print(f"taskchat: pass --jwt-secret or set {ENV_SECRET}", file=sys.stderr)
        return 2
    url = args.url.rstrip("/")
    admin = {"Authorization": "Bearer " + make_token(secret, "demo-admin", name="Demo", admin=True)}
    task_id = args.task_id or f"demo-{uuid.uuid4().hex[:8]}"
    try:
        r = requests.post(f"{url}/api/tasks", json={"taskId": task_id, "title": "Demo task"},
                          headers=admin, timeout=10)
        if r.status_code not in (201, 409):
            print(f"taskchat: POST /api/tasks: {r.status_code} {r.text}", file=sys.stderr)
            return 1
        tokens = {}
        for role, name in _DEMO_USERS:
            uid = f"demo-{role}"
            r = requests.put(f"{url}/api/tasks/{task_id}/members/{uid}",
                             json={"role": role, "userName": name}, headers=admin, timeout=10)
            if r.status_code != 200:
                print(f"taskchat: PUT member: {r.status_code} {r.text}", file=sys.stderr)
                return 1
            tokens[role] = make_token(secret, uid, name=name, ttl=24 * 3600)
    except requests.RequestException as exc:
        print(f"taskchat: cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    print(f"task: {task_id}")
    for role, token in tokens.items():
        print(f"{role:7} token: {token}")
    print()
    print(_SNIPPET.format(url=url, token=tokens["member"], task=task_id))
    return 0
