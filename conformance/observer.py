"""Validates every event and ack a server sends against its schema (DATA-1).

Runs on each connection's reader thread as events arrive, and on each ack as a check receives
it, so a violation is caught in every check, not only in the checks about that event.
"""

from __future__ import annotations

from typing import Any

from taskchat.schemas import Direction, events
from taskchat.schemas.validation import schema_for, validate


def payload_of(args: list[Any]) -> tuple[Any, str | None]:
    """The single argument of an event or ack, or a complaint about the arity."""
    if len(args) != 1:
        return (args, f"$: expected exactly one argument, got {len(args)}")
    return (args[0], None)


def event_violations(event: str, args: list[Any]) -> list[str]:
    """Violations of a server→client event; an event outside the protocol has none to report."""
    spec = events().get(event)
    if spec is None or spec.direction != Direction.SERVER_TO_CLIENT:
        return []
    payload, arity = payload_of(args)
    if arity:
        return [arity]
    return [str(v) for v in validate(spec.payload, payload)]


def ack_violations(event: str, args: list[Any]) -> list[str]:
    """Violations of the ack of a client→server event (an unknown event's ack is an error ack)."""
    spec = events().get(event)
    rel = schema_for(event, "ack") if spec is not None else "acks/error.json"
    payload, arity = payload_of(args)
    if arity:
        return [arity]
    return [str(v) for v in validate(rel, payload)]


def connect_violations(kind: str, payload: Any) -> list[str]:
    """``kind`` is ``accepted`` (CONNECT) or ``refused`` (CONNECT_ERROR)."""
    return [str(v) for v in validate(schema_for("connect", kind), payload)]
