"""The reference server's HTTP side (CONTRACT §9, D21-D23): health, admin API, history.

Admin operations go through the same chat rules and the same outbox as socket events, so the
room sees ``member_changed``, ``task_updated`` and ``task_notification`` in order with the
chat, and an HTTP answer is sent only after the change is committed.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
import trio
from taskchat.reference_server.app import ChatApp
from taskchat.reference_server.auth import AuthFailure
from taskchat.reference_server.chat import ChatError, Identity
from taskchat.reference_server.store import HistoryError, write_failure_message
from taskchat.schemas import ErrorCode
from taskchat.schemas.validation import validate

if TYPE_CHECKING:
    from taskchat.reference_server.chat import Effect

log = logging.getLogger("taskchat.http")

# D21's HTTP-only codes are in schemas too (defs/http-error-code.json), so in ErrorCode
NOT_FOUND = ErrorCode.NOT_FOUND
METHOD_NOT_ALLOWED = ErrorCode.METHOD_NOT_ALLOWED
CONFLICT = ErrorCode.CONFLICT
PAYLOAD_TOO_LARGE = ErrorCode.PAYLOAD_TOO_LARGE

_STATUS = {
    ErrorCode.INVALID_PAYLOAD: 400,
    ErrorCode.AUTH_REQUIRED: 401,
    ErrorCode.AUTH_INVALID: 401,
    ErrorCode.AUTH_EXPIRED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.TASK_NOT_FOUND: 404,
    ErrorCode.MESSAGE_NOT_FOUND: 404,
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    CONFLICT: 409,
    PAYLOAD_TOO_LARGE: 413,
    ErrorCode.INTERNAL: 500,
}

_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/healthz$"), "health"),
    (re.compile(r"^/api/tasks$"), "tasks"),
    (re.compile(r"^/api/tasks/([^/]+)$"), "task"),
    (re.compile(r"^/api/tasks/([^/]+)/members/([^/]+)$"), "member"),
    (re.compile(r"^/api/tasks/([^/]+)/notifications$"), "notifications"),
    (re.compile(r"^/api/tasks/([^/]+)/messages$"), "messages"),
]
_METHODS = {
    "health": ("GET", "HEAD"),
    "tasks": ("POST",),
    "task": ("PATCH",),
    "member": ("PUT", "DELETE"),
    "notifications": ("POST",),
    "messages": ("GET",),
}
_JSON = (b"content-type", b"application/json")
_MAX_BODY = 1_000_000


class HttpError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Response = tuple[int, list[tuple[bytes, bytes]], bytes]


def _json(status: int, body: object) -> Response:
    return status, [_JSON], orjson.dumps(body)


def _error(code: str, message: str) -> Response:
    return _json(_STATUS.get(code, 500), {"error": {"code": code, "message": message}})


class HttpApi:
    """The transport's ``HttpHandler``."""

    def __init__(self, app: ChatApp) -> None:
        self.app = app

    async def __call__(
        self, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Response:
        try:
            return await self._route(method.upper(), target, headers, body)
        except HttpError as err:
            return _error(err.code, err.message)
        except AuthFailure as err:
            return _error(err.code, err.message)
        except ChatError as err:
            return _error(err.code, err.message)
        except Exception:
            log.exception("event=http_internal_error method=%s", method)
            return _error(ErrorCode.INTERNAL, "internal server error")

    async def _route(
        self, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Response:
        url = urlsplit(target)
        for pattern, name in _ROUTES:
            match = pattern.match(url.path)
            if match is None:
                continue
            if method not in _METHODS[name]:
                raise HttpError(METHOD_NOT_ALLOWED, f"{method} is not allowed on {url.path}")
            params = [unquote(p) for p in match.groups()]
            for p in params:
                if not 1 <= len(p) <= 128:
                    raise HttpError(ErrorCode.INVALID_PAYLOAD, "ids are 1 to 128 characters")
            if len(body) > _MAX_BODY:
                raise HttpError(PAYLOAD_TOO_LARGE, "the request body is too large")
            if name == "health":
                problem = self.app.health_problem()
                if problem is not None:  # D63: say why writes are refused; 503 to probes
                    return _json(503, {"error": {"code": ErrorCode.INTERNAL, "message": problem}})
                return _json(200, {"status": "ok"})
            if name == "messages":
                return await self._history(params[0], url.query, headers)
            return await self._admin(name, method, params, headers, body)
        raise HttpError(NOT_FOUND, f"no route for {url.path}")

    # ------------------------------------------------------------------ auth

    def _bearer(self, headers: list[tuple[bytes, bytes]]) -> Identity:
        for key, value in headers:
            if key.lower() == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    return self.app.verifier.verify(token.strip())
        raise HttpError(ErrorCode.AUTH_REQUIRED, "a bearer token is required")

    # ------------------------------------------------------------------ admin

    async def _execute(self, effects: list[Effect]) -> None:
        """Run an admin change; a change whose writes were not kept is a 500, not a success."""
        failure = await self.app.execute(effects)
        if failure is not None:
            raise HttpError(ErrorCode.INTERNAL, write_failure_message(failure))

    async def _admin(
        self, name: str, method: str, params: list[str], headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> Response:
        who = self._bearer(headers)
        if not who.admin:
            raise HttpError(ErrorCode.FORBIDDEN, "an admin token is required")
        rules = self.app.rules
        now = self.app.clock()
        if name == "member" and method == "DELETE":
            await self._execute(rules.remove_member(params[0], params[1], now))
            return 204, [], b""
        schema = {
            "tasks": "http/create_task.request.json",
            "task": "http/update_task.request.json",
            "member": "http/put_member.request.json",
            "notifications": "http/notification.request.json",
        }[name]
        data = _body(body, schema)
        if name == "tasks":
            task_id = data.get("taskId")
            if task_id is not None and task_id in rules.tasks:
                raise HttpError(CONFLICT, f"task {task_id!r} exists")
            task, effects = rules.create_task(task_id, data["title"])
            await self._execute(effects)
            return _json(201, {"taskId": task.task_id, "title": task.title})
        if name == "task":
            effects = rules.update_task(params[0], data, who.user_id, now)
            await self._execute(effects)
            task = rules.tasks[params[0]]
            return _json(200, {**task.data, "taskId": task.task_id, "title": task.title})
        if name == "member":
            member, effects = rules.put_member(
                params[0], params[1], data["role"], data.get("userName"), now
            )
            await self._execute(effects)
            return _json(200, member.wire())
        effects = rules.notify(params[0], data["type"], data["message"], data.get("data"), now)
        await self._execute(effects)
        return _json(202, {"taskId": params[0], "delivered": bool(effects)})

    # ------------------------------------------------------------------ history

    async def _history(
        self, task_id: str, query: str, headers: list[tuple[bytes, bytes]]
    ) -> Response:
        who = self._bearer(headers)
        if task_id not in self.app.rules.tasks:
            raise HttpError(ErrorCode.TASK_NOT_FOUND, f"task {task_id!r} does not exist")
        if not (who.admin or self.app.rules.is_member(task_id, who.user_id)):
            raise HttpError(ErrorCode.FORBIDDEN, "only members may read the history")
        q = parse_qs(query, keep_blank_values=True)
        limit_text = q.get("limit", ["50"])[-1]
        if not re.fullmatch(r"[0-9]{1,3}", limit_text) or not 1 <= int(limit_text) <= 100:
            raise HttpError(ErrorCode.INVALID_PAYLOAD, "limit must be an integer from 1 to 100")
        before = q.get("before", [None])[-1] or None
        try:
            page = await trio.to_thread.run_sync(
                self.app.store.history, task_id, int(limit_text), before
            )
        except HistoryError:
            raise HttpError(ErrorCode.MESSAGE_NOT_FOUND, f"no message {before!r} in this task") from None
        return _json(200, {"taskId": task_id, "messages": page.messages, "hasMore": page.has_more})


def _body(body: bytes, schema: str) -> dict[str, Any]:
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        raise HttpError(ErrorCode.INVALID_PAYLOAD, "the body is not JSON") from None
    problems = validate(schema, data)
    if problems:
        raise HttpError(ErrorCode.INVALID_PAYLOAD, str(problems[0]))
    assert isinstance(data, dict)
    return data
