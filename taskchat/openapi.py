"""docs/openapi.json: the reference server's HTTP side (CONTRACT §9) as an OpenAPI 3.1 document.

OpenAPI 3.1 speaks JSON Schema 2020-12, so bodies are ``$ref``s to the protocol's own schema
files, and an error response narrows ``http/error.json`` to the codes its status carries (D21).
"""

from __future__ import annotations

import json
from typing import Any

OUTPUT = "docs/openapi.json"
REF_BASE = "../schemas/"  # relative to docs/
JSON = "application/json"


DESCRIPTION = """\
The reference server's HTTP API (CONTRACT §9): a health check, the admin API that drives the \
backend events (`task_updated`, `member_changed`, `task_notification`) into the Socket.IO \
rooms, and message history for members. Other servers MAY offer the same endpoints; the \
conformance suite's default control adapter uses them.

**Tokens.** Every endpoint but `/healthz` takes a bearer JWT, signed like the users' Socket.IO \
tokens. An *admin* token is one whose claims hold `"admin": true`; a *member* token is a user's \
own token, and that user must be a member of the task.

**Errors** are `{"error": {"code", "message"}}` (`schemas/http/error.json`) with the status of \
decision D21: 400 `INVALID_PAYLOAD`, 401 `AUTH_*`, 403 `FORBIDDEN`, 404 `TASK_NOT_FOUND` / \
`MESSAGE_NOT_FOUND` / `NOT_FOUND`, 405 `METHOD_NOT_ALLOWED`, 409 `CONFLICT`, 413 \
`PAYLOAD_TOO_LARGE`, 500 `INTERNAL`. An unknown route is 404 `NOT_FOUND` and a known route \
with another method 405 `METHOD_NOT_ALLOWED`, whatever the path."""


def _ref(rel: str) -> dict[str, str]:
    return {"$ref": REF_BASE + rel}


def _json_body(rel: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(rel)}}}


# The reusable error responses and their statuses (D21); 405 has no operation of its own.
_STATUS_OF = {
    "InvalidPayload": "400", "Unauthorized": "401", "Forbidden": "403", "NotFound": "404",
    "Conflict": "409", "PayloadTooLarge": "413", "Internal": "500",
}


def _error_responses() -> dict[str, dict[str, Any]]:
    """One reusable response per D21 status, its ``code`` narrowed to what that status means."""
    from taskchat.schemas.protocol import AUTH_ERROR_CODES, HTTP_ONLY_ERROR_CODES, ErrorCode

    by_name: dict[str, tuple[str, list[str]]] = {
        "InvalidPayload": ("The body or a parameter fails its schema.",
                           [ErrorCode.INVALID_PAYLOAD]),
        "Unauthorized": ("No token, or a token that is invalid or expired.",
                         list(AUTH_ERROR_CODES)),
        "Forbidden": ("The token is valid but not allowed here (not an admin; not a member of "
                      "the task).", [ErrorCode.FORBIDDEN]),
        "NotFound": ("No such task, message (history's `before`) or route.",
                     [ErrorCode.TASK_NOT_FOUND, ErrorCode.MESSAGE_NOT_FOUND, ErrorCode.NOT_FOUND]),
        "Conflict": (HTTP_ONLY_ERROR_CODES["CONFLICT"], [ErrorCode.CONFLICT]),
        "PayloadTooLarge": (HTTP_ONLY_ERROR_CODES["PAYLOAD_TOO_LARGE"],
                            [ErrorCode.PAYLOAD_TOO_LARGE]),
        "Internal": ("The server failed; the request changed nothing.", [ErrorCode.INTERNAL]),
    }
    out: dict[str, dict[str, Any]] = {}
    for name, (description, codes) in by_name.items():
        narrowed = {"properties": {"error": {"properties": {"code": {"enum": list(codes)}}}}}
        out[name] = {
            "description": f"{_STATUS_OF[name]}: {description}",
            "content": {JSON: {"schema": {"allOf": [_ref("http/error.json"), narrowed]}}},
        }
    return out


def _errors(*names: str) -> dict[str, Any]:
    return {_STATUS_OF[n]: {"$ref": f"#/components/responses/{n}"} for n in names}


def _task_id() -> dict[str, Any]:
    return {"name": "taskId", "in": "path", "required": True,
            "schema": _ref("defs/ids.json#/$defs/taskId")}


def _user_id() -> dict[str, Any]:
    return {"name": "userId", "in": "path", "required": True,
            "schema": _ref("defs/ids.json#/$defs/userId")}


def build() -> dict[str, Any]:
    from taskchat.schemas.protocol import INDEX, Event

    admin: list[dict[str, list[str]]] = [{"adminBearer": []}]
    member: list[dict[str, list[str]]] = [{"memberBearer": []}]
    with_body = ("InvalidPayload", "Unauthorized", "Forbidden")
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Is the server accepting connections?",
                "security": [],
                "responses": {
                    "200": _json_body("http/health.json", "It is."),
                    "503": _json_body("http/error.json", "It cannot keep writes any more (its "
                                      "database file is gone, ISO-3): `error.message` says why; "
                                      "reads may still work."),
                },
            }
        },
        "/api/tasks": {
            "post": {
                "operationId": "createTask",
                "summary": "Create a task (a chat room).",
                "description": "Without `taskId` the server assigns one.",
                "security": admin,
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("http/create_task.request.json")}}},
                "responses": {
                    "201": _json_body("http/task.json", "Created."),
                    **_errors(*with_body, "Conflict", "PayloadTooLarge", "Internal"),
                },
            }
        },
        "/api/tasks/{taskId}": {
            "parameters": [_task_id()],
            "patch": {
                "operationId": "updateTask",
                "summary": "Change a task; the room gets `task_updated`.",
                "description": "The body is the changes, emitted as `task_updated.changes`, "
                "with `updatedBy` the admin token's `sub` (D23).",
                "security": admin,
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("http/update_task.request.json")}}},
                "responses": {
                    "200": _json_body("http/task_updated.response.json",
                                      "Updated; `task_updated` was emitted."),
                    **_errors(*with_body, "NotFound", "PayloadTooLarge", "Internal"),
                },
                "x-emits": [Event.TASK_UPDATED],
            },
        },
        "/api/tasks/{taskId}/members/{userId}": {
            "parameters": [_task_id(), _user_id()],
            "put": {
                "operationId": "putMember",
                "summary": "Add a member or change their role; the room gets `member_changed`.",
                "description": "`action` is `added` when the user was not a member, `updated` "
                "otherwise, also when nothing changed (D14). Takes effect at once for the "
                "member's sockets already in the room.",
                "security": admin,
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("http/put_member.request.json")}}},
                "responses": {
                    "200": _json_body("defs/member.json", "The member as now stored."),
                    **_errors(*with_body, "NotFound", "PayloadTooLarge", "Internal"),
                },
                "x-emits": [Event.MEMBER_CHANGED],
            },
            "delete": {
                "operationId": "removeMember",
                "summary": "Remove a member; the room gets `member_changed` (`removed`).",
                "description": "Then the user's sockets leave the room (D13): they receive "
                "nothing more from it, and the others get `user_stopped_typing` (if typing) "
                "and `user_left`.",
                "security": admin,
                "responses": {
                    "204": {"description": "Removed."},
                    **_errors("Unauthorized", "Forbidden", "NotFound", "Internal"),
                },
                "x-emits": [Event.MEMBER_CHANGED, Event.USER_STOPPED_TYPING, Event.USER_LEFT],
            },
        },
        "/api/tasks/{taskId}/notifications": {
            "parameters": [_task_id()],
            "post": {
                "operationId": "postNotification",
                "summary": "Post a notification; the room gets `task_notification`.",
                "security": admin,
                "requestBody": {"required": True, "content": {
                    JSON: {"schema": _ref("http/notification.request.json")}}},
                "responses": {
                    "202": _json_body("http/notification.response.json",
                                      "Accepted; `task_notification` was emitted."),
                    **_errors(*with_body, "NotFound", "PayloadTooLarge", "Internal"),
                },
                "x-emits": [Event.TASK_NOTIFICATION],
            },
        },
        "/api/tasks/{taskId}/messages": {
            "parameters": [_task_id()],
            "get": {
                "operationId": "history",
                "summary": "A page of the task's messages, newest first.",
                "description": "Deleted messages appear as tombstones: `is_deleted: true`, "
                "`deleted_at`, text and attachments blanked. The page holds messages strictly "
                "older than `before`; `hasMore` says whether older ones remain (D22).",
                "security": member,
                "parameters": [
                    {"name": "limit", "in": "query", "required": False,
                     "description": "How many messages, 1 to 100; otherwise 400.",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 100,
                                "default": 50}},
                    {"name": "before", "in": "query", "required": False,
                     "description": "A message id of the task: only older messages; an "
                     "unknown id is 404 `MESSAGE_NOT_FOUND`.",
                     "schema": _ref("defs/ids.json#/$defs/messageId")},
                ],
                "responses": {
                    "200": _json_body("http/history.json", "The page."),
                    **_errors(*with_body, "NotFound", "Internal"),
                },
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"The {INDEX['protocol']} reference server's HTTP API",
            "version": INDEX["version"],
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": f"http://localhost:{INDEX['transport']['defaultPort']}",
                     "description": "The reference server (same port as Socket.IO)."}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminBearer": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "A JWT signed like the users' tokens whose claims hold "
                    "`\"admin\": true`. A user's token is 403.",
                },
                "memberBearer": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "A user's JWT (the one it connects with); the user must be "
                    "a member of the task, otherwise 403.",
                },
            },
            "responses": _error_responses(),
        },
    }


def render() -> str:
    """The document with the schema files bundled (:mod:`taskchat.bundle`): it stands alone."""
    from taskchat.bundle import bundle
    from taskchat.schemas.validation import load_schema

    document = bundle(build(), REF_BASE, load_schema)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
