"""Validates every event and ack a server sends against its schema (DATA-1).

Runs on each connection's reader thread as events arrive, and on each ack as a check receives
it, so a violation is caught in every check, not only in the checks about that event.

Each violation comes with its level (D24): MUST when the payload breaks the schema's MUST-only
reading (the contract), SHOULD when it breaks only the project's stricter constraints. The
caller files a MUST violation under its requirement (DATA-1, AUTH-10) and a SHOULD one under
DATA-5, so a server that is stricter-schema-clean only where the contract asks is warned, not
failed.
"""

from __future__ import annotations

from typing import Any

from taskchat.schemas import Direction, Level, events
from taskchat.schemas.validation import graded, schema_for

Graded = list[tuple[Level, str]]
SHOULD_SCHEMA_REQUIREMENT = "DATA-5"


def _graded(rel: str, payload: Any) -> Graded:
    must, should = graded(rel, payload)
    return [(Level.MUST, str(v)) for v in must] + [(Level.SHOULD, str(v)) for v in should]


def payload_of(args: list[Any]) -> tuple[Any, str | None]:
    """The single argument of an event or ack, or a complaint about the arity."""
    if len(args) != 1:
        return (args, f"$: expected exactly one argument, got {len(args)}")
    return (args[0], None)


def event_violations(event: str, args: list[Any]) -> Graded:
    """Violations of a server→client event; an event outside the protocol has none to report."""
    spec = events().get(event)
    if spec is None or spec.direction != Direction.SERVER_TO_CLIENT:
        return []
    payload, arity = payload_of(args)
    if arity:
        return [(Level.MUST, arity)]
    return _graded(spec.payload, payload)


def ack_violations(event: str, args: list[Any]) -> Graded:
    """Violations of the ack of a client→server event (an unknown event's ack is an error ack)."""
    spec = events().get(event)
    rel = schema_for(event, "ack") if spec is not None else "acks/error.json"
    payload, arity = payload_of(args)
    if arity:
        return [(Level.MUST, arity)]
    return _graded(rel, payload)


def connect_violations(kind: str, payload: Any) -> Graded:
    """``kind`` is ``accepted`` (CONNECT) or ``refused`` (CONNECT_ERROR)."""
    return _graded(schema_for("connect", kind), payload)


def requirement_for(level: Level, must_requirement: str) -> str:
    """Where a violation is filed: its MUST requirement, or DATA-5 for a SHOULD-only one."""
    return must_requirement if level == Level.MUST else SHOULD_SCHEMA_REQUIREMENT
