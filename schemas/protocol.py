"""Typed access to ``index.json``: events, error codes, requirements.

The names are not restated by hand: ``Event`` and ``ErrorCode`` come from ``names.py``, which
``taskchat schemas names`` generates from the index and the error-code schemas (a test holds it
equal to them), so a type checker sees every member. Adding an event is an edit to the JSON and
a regeneration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

# Members are the names in the JSON files, e.g. Event.SEND_MESSAGE == "send_message",
# ErrorCode.NOT_JOINED == "NOT_JOINED", ErrorCode.CONFLICT == "CONFLICT" (generated: names.py).
from taskchat.schemas.names import ErrorCode as ErrorCode
from taskchat.schemas.names import Event as Event

SCHEMA_DIR = Path(__file__).resolve().parent


def _load(rel: str) -> dict[str, Any]:
    with (SCHEMA_DIR / rel).open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


INDEX: dict[str, Any] = _load("index.json")
PROTOCOL_VERSION: str = INDEX["version"]
ACK_ERROR_SCHEMA = "acks/error.json"


class Direction(StrEnum):
    CLIENT_TO_SERVER = "client-to-server"
    SERVER_TO_CLIENT = "server-to-client"


class Recipients(StrEnum):
    """Who receives a server→client event (CONTRACT §6, §10)."""

    SENDER = "sender"
    OTHERS = "others"
    ROOM = "room"


class Level(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"


def _codes(rel: str) -> list[str]:
    return [branch["const"] for branch in _load(rel)["oneOf"]]


def _http_only_codes(rel: str) -> dict[str, str]:
    """The HTTP API's own codes (D21): the constant branch of defs/http-error-code.json."""
    out: dict[str, str] = {}
    for branch in _load(rel)["anyOf"]:
        for const in branch.get("oneOf", ()):
            out[const["const"]] = const["description"]
    return out


EVENT_ERROR_CODES: tuple[str, ...] = tuple(_codes(INDEX["errorCodes"]["event"]))
AUTH_ERROR_CODES: tuple[str, ...] = tuple(_codes(INDEX["errorCodes"]["auth"]))
HTTP_ONLY_ERROR_CODES: dict[str, str] = _http_only_codes(INDEX["errorCodes"]["http"])



@dataclass(frozen=True, slots=True)
class Requirement:
    id: str
    area: str
    level: Level
    text: str
    source: str
    decision: bool

    @property
    def number(self) -> int:
        return int(self.id.rsplit("-", 1)[1])


@dataclass(frozen=True, slots=True)
class Area:
    key: str
    title: str
    description: str


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    direction: Direction
    summary: str
    payload: str
    ack: str | None
    recipients: Recipients | None
    emits: tuple[str, ...]
    requirements: tuple[str, ...]


def _requirements() -> dict[str, Requirement]:
    out: dict[str, Requirement] = {}
    for rid, r in INDEX["requirements"].items():
        out[rid] = Requirement(
            id=rid,
            area=rid.split("-", 1)[0],
            level=Level(r["level"]),
            text=r["text"],
            source=r["source"],
            decision=bool(r.get("decision", False)),
        )
    return out


REQUIREMENTS: dict[str, Requirement] = _requirements()


def requirement(rid: str) -> Requirement:
    """The requirement with that id; a KeyError names an id the spec does not define."""
    try:
        return REQUIREMENTS[rid]
    except KeyError:
        raise KeyError(f"unknown requirement id {rid!r}") from None


@cache
def areas() -> dict[str, Area]:
    return {k: Area(k, a["title"], a["description"]) for k, a in INDEX["areas"].items()}


@cache
def events() -> dict[str, EventSpec]:
    out: dict[str, EventSpec] = {}
    for name, e in INDEX["events"].items():
        out[name] = EventSpec(
            name=name,
            direction=Direction(e["direction"]),
            summary=e["summary"],
            payload=e["payload"],
            ack=e.get("ack"),
            recipients=Recipients(e["recipients"]) if e.get("recipients") else None,
            emits=tuple(e.get("emits", ())),
            requirements=tuple(e["requirements"]),
        )
    return out


def event_spec(name: str) -> EventSpec:
    try:
        return events()[name]
    except KeyError:
        raise KeyError(f"unknown event {name!r}") from None
