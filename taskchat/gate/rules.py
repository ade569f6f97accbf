"""Which changes break whom: the direction rule for payloads and the rules for events and codes.

A payload is read by one side. When the *server* reads it (client→server payloads, the CONNECT
auth object, acks of server→client events), deployed clients keep sending what the old schema
allowed, so the new schema must accept all of it: a narrowing breaks. When *clients* read it
(server→client payloads, acks of client→server events, CONNECT results), deployed clients only
understand what the old schema allowed, so the new schema must not let anything else through:
a widening breaks. A change that may do both breaks either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from taskchat.gate.diff import Effect
from taskchat.schemas.protocol import Direction


class Reader(StrEnum):
    SERVER = "server"
    CLIENTS = "clients"


class Bump(StrEnum):
    """The least semver step a change set needs, in increasing order of weight."""

    NONE = "none"
    PATCH = "patch"
    MINOR = "minor"
    MAJOR = "major"

    @property
    def weight(self) -> int:
        return list(Bump).index(self)


def reader_of(direction: Direction, part: str) -> Reader:
    """Who reads an event's payload or ack: the ack travels the opposite way of its event."""
    to_server = direction is Direction.CLIENT_TO_SERVER
    if part == "ack":
        to_server = not to_server
    return Reader.SERVER if to_server else Reader.CLIENTS


def travels(reader: Reader) -> str:
    return (
        Direction.CLIENT_TO_SERVER.value
        if reader is Reader.SERVER
        else Direction.SERVER_TO_CLIENT.value
    )


def breaks(effect: Effect, reader: Reader) -> bool:
    if effect is Effect.BOTH:
        return True
    if reader is Reader.SERVER:
        return effect is Effect.NARROWS
    return effect is Effect.WIDENS


def searched_way(reader: Reader) -> str:
    """Which version must accept and which refuse for a payload to prove a break."""
    return "base" if reader is Reader.SERVER else "head"


@dataclass
class Finding:
    """One row of the verdict: a named change to one event's payload, ack or declaration."""

    subject: str  # send_message, send_message.ack, connect.auth, errorCodes.event
    event: str  # the event (or "connect", "errorCodes")
    part: str  # payload, ack, event, codes
    direction: str  # the way the payload travels (client-to-server / server-to-client)
    reader: str  # who reads it: server, clients
    change: str
    path: str
    effect: str
    breaking: bool
    detail: str = ""
    counterexample: dict[str, Any] | None = None
    note: str = ""
    allowed: bool = False
    reason: str = ""

    @property
    def fails(self) -> bool:
        return self.breaking and not self.allowed

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "event": self.event,
            "part": self.part,
            "direction": self.direction,
            "reader": self.reader,
            "change": self.change,
            "path": self.path,
            "effect": self.effect,
            "breaking": self.breaking,
            "detail": self.detail,
            "counterexample": self.counterexample,
            "note": self.note,
            "allowed": self.allowed,
            "reason": self.reason,
        }


def event_finding(
    event: str, direction: str, change: str, *, breaking: bool, detail: str = ""
) -> Finding:
    reader = Reader.SERVER if direction == Direction.CLIENT_TO_SERVER.value else Reader.CLIENTS
    return Finding(
        subject=event,
        event=event,
        part="event",
        direction=direction,
        reader=reader.value,
        change=change,
        path="",
        effect=Effect.NONE.value,
        breaking=breaking,
        detail=detail,
    )


# ---- event declarations (index.json "events") -------------------------------------------------
# change name -> breaking?  Removing what a deployed peer relies on breaks; adding does not.
EVENT_RULES: dict[str, bool] = {
    "event removed": True,  # deployed clients still emit it / still listen for it
    "event renamed": True,  # a rename is a removal for everyone deployed
    "event added": False,
    "direction changed": True,
    "recipients changed": True,  # clients rely on who gets an event (their own echo, or not)
    "ack removed": True,  # a client waiting for the ack waits forever
    "ack added": False,  # clients that do not ask for it get nothing new
    "emitted event removed": True,  # clients wait for the announcement the request caused
    "emitted event added": False,  # Socket.IO clients ignore events they do not listen to
    "connect schema removed": True,
    "connect schema added": False,
    # Error codes are a closed set clients switch on. A removed code breaks the clients that
    # handle it (the condition now arrives under another code, and servers of the old version,
    # still deployed, keep sending it to new clients); an added code reaches deployed clients
    # that have no case for it, the server→client rule for widening.
    "error code removed": True,
    "error code added": True,
    "error code schema removed": True,
    "error code schema added": False,
}


@dataclass
class Allowance:
    """``--allow EVENT:CHANGE --reason TEXT``: a breaking change accepted on purpose."""

    event: str
    change: str
    reason: str
    used: int = field(default=0)

    @classmethod
    def parse(cls, text: str, reason: str) -> Allowance:
        event, sep, change = text.partition(":")
        if not sep or not event.strip() or not change.strip():
            raise ValueError(
                f"--allow {text!r}: expected EVENT:CHANGE, e.g. 'send_message:required property added'"
            )
        return cls(event.strip(), change.strip(), reason)

    def matches(self, finding: Finding) -> bool:
        from fnmatch import fnmatchcase

        names = {finding.subject, finding.event}
        return any(fnmatchcase(n, self.event) for n in names) and fnmatchcase(
            finding.change.lower(), self.change.lower()
        )

    def to_json(self) -> dict[str, Any]:
        return {"allow": f"{self.event}:{self.change}", "reason": self.reason, "matched": self.used}


def apply_allowances(findings: list[Finding], allowances: list[Allowance]) -> None:
    for f in findings:
        if not f.breaking:
            continue
        for a in allowances:
            if a.matches(f):
                f.allowed, f.reason = True, a.reason
                a.used += 1
                break


def required_bump(findings: list[Finding], trees_differ: bool) -> Bump:
    """Major for a breaking change, minor for any other change to what is accepted or declared
    (an allowed break included: it was judged harmless, not absent), patch for edits that change
    nothing (descriptions, refactored references), none for identical trees."""
    if any(f.fails for f in findings):
        return Bump.MAJOR
    if findings:
        return Bump.MINOR
    return Bump.PATCH if trees_differ else Bump.NONE
