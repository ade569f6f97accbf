"""docs/asyncapi.json: the Socket.IO side of the protocol as an AsyncAPI 3.0 document.

JSON rather than YAML so that generating it needs no YAML library. Payloads are ``$ref``s to the
schema files themselves; the committed document bundles those files (:mod:`taskchat.bundle`) under
``components.schemas``, verbatim, so it stands alone and still cannot say something the schemas
do not. ``--no-bundle`` keeps the references to ``../schemas/`` (for reading beside the files).
"""

from __future__ import annotations

import json
from typing import Any

OUTPUT = "docs/asyncapi.json"
SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
SCHEMA_REF_BASE = "../schemas/"  # relative to docs/
CHANNEL = "namespace"

DESCRIPTION = """\
The task-chat protocol on Socket.IO v5 over Engine.IO v4.

**Whose point of view.** This document describes the *server*: an operation whose action is \
`receive` is an event a client emits and the server handles (client→server); `send` is an event \
the server emits to clients (server→client). A client reads the actions the other way round.

**Channel.** The one channel's address (`/`) is the Socket.IO namespace, not a URL path: every \
event travels over the connection to the server's `/socket.io/` endpoint, in the default \
namespace. The Socket.IO event name is the message's `name` \
(`CONNECT`, `CONNECT_ERROR` and `ACK` name packets, not events).

**Acks.** Every client→server event may carry an ack id; the server answers it exactly once \
with the message named in the operation's `reply` (the first argument of the ACK packet): \
`{"ok": true, ...}` or `{"ok": false, "error": {"code", "message"}}`.

**Connecting.** The `connect` operation is the Socket.IO CONNECT packet: the client's `auth` \
object carries the JWT; the server replies with a CONNECT (`connect.ok`) or a CONNECT_ERROR \
(`connect.error`).

**Transports.** WebSocket (`ws`), and HTTP long-polling with upgrade to WebSocket (`http`): \
both servers below are the same endpoint reached by the two Engine.IO transports.

Payload schemas are the JSON Schema (draft 2020-12) files under `schemas/`, bundled into \
`components.schemas` under their path (`defs/ids.json` is `defs.ids`); the requirement ids in \
`x-requirements` are those of `docs/protocol.md`."""


def _schema(rel: str) -> dict[str, Any]:
    return {"schemaFormat": SCHEMA_FORMAT, "schema": {"$ref": SCHEMA_REF_BASE + rel}}


def _message(name: str, title: str, summary: str, rel: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "payload": _schema(rel),
    }


def _channel_message(key: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{CHANNEL}/messages/{key}"}


def build() -> dict[str, Any]:
    from taskchat.schemas.protocol import INDEX, Direction, events

    transport = INDEX["transport"]
    host = f"localhost:{transport['defaultPort']}"
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    channel = {"$ref": f"#/channels/{CHANNEL}"}

    connect = INDEX["connect"]
    messages["connect.auth"] = _message(
        "CONNECT", "CONNECT auth", "The client's CONNECT packet: `auth` carries the JWT.",
        connect["auth"])
    messages["connect.ok"] = _message(
        "CONNECT", "CONNECT (accepted)", "The server's CONNECT: the connection is accepted.",
        connect["accepted"])
    messages["connect.error"] = _message(
        "CONNECT_ERROR", "CONNECT_ERROR (refused)",
        "The connection is refused; socket.io-client surfaces it as `connect_error`.",
        connect["refused"])
    operations["connect"] = {
        "action": "receive",
        "channel": channel,
        "title": "Connect",
        "summary": "A client connects to the namespace with its token.",
        "messages": [_channel_message("connect.auth")],
        "reply": {
            "channel": channel,
            "messages": [_channel_message("connect.ok"), _channel_message("connect.error")],
        },
        "x-requirements": list(connect["requirements"]),
    }

    for spec in events().values():
        messages[spec.name] = _message(spec.name, spec.name, spec.summary, spec.payload)
        operation: dict[str, Any] = {
            "action": "receive" if spec.direction is Direction.CLIENT_TO_SERVER else "send",
            "channel": channel,
            "title": spec.name,
            "summary": spec.summary,
            "messages": [_channel_message(spec.name)],
        }
        if spec.ack is not None:
            ack = f"{spec.name}.ack"
            messages[ack] = _message(
                "ACK", f"{spec.name} ack",
                f"The ack of `{spec.name}`: `ok: true` with the result, or `ok: false` with "
                "the error.", spec.ack)
            operation["reply"] = {"channel": channel, "messages": [_channel_message(ack)]}
        if spec.recipients is not None:
            operation["description"] = f"Sent to {INDEX['recipients'][spec.recipients]}."
            operation["x-recipients"] = spec.recipients.value
        else:
            operation["description"] = (
                "A request that breaks a rule changes nothing; the sender gets an `error` "
                "event, then the `ok: false` ack when it asked for one.")
        if spec.emits:
            operation["x-emits"] = list(spec.emits)
        operation["x-requirements"] = list(spec.requirements)
        operations[spec.name] = operation

    servers = {
        "websocket": {
            "host": host,
            "protocol": "ws",
            "pathname": transport["path"],
            "title": "Reference server (WebSocket)",
            "description": f"Engine.IO v{transport['engineio']} WebSocket transport "
            f"(`?EIO={transport['engineio']}&transport=websocket`).",
        },
        "polling": {
            "host": host,
            "protocol": "http",
            "pathname": transport["path"],
            "title": "Reference server (HTTP long-polling)",
            "description": f"Engine.IO v{transport['engineio']} polling transport "
            f"(`?EIO={transport['engineio']}&transport=polling`), upgradable to WebSocket.",
        },
    }
    return {
        "asyncapi": "3.0.0",
        "id": "urn:taskchat:protocol",
        "info": {
            "title": f"The {INDEX['protocol']} protocol",
            "version": INDEX["version"],
            "description": DESCRIPTION,
            "license": {"name": "MIT"},
        },
        "defaultContentType": "application/json",
        "servers": servers,
        "channels": {
            CHANNEL: {
                "address": transport["namespace"],
                "title": "The default Socket.IO namespace",
                "servers": [{"$ref": f"#/servers/{k}"} for k in servers],
                "messages": {k: {"$ref": f"#/components/messages/{k}"} for k in messages},
            }
        },
        "operations": operations,
        "components": {"messages": messages},
    }


def render(bundle: bool = True) -> str:
    document = build()
    if bundle:
        from taskchat.bundle import bundle as inline
        from taskchat.schemas.validation import load_schema

        document = inline(document, SCHEMA_REF_BASE, load_schema)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
