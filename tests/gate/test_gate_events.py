"""What the index declares: events, recipients, acks, emits, error codes and the CONNECT schemas,
on copies of the protocol's real schemas."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from taskchat.schemas import PROTOCOL_VERSION

from taskchat.gate.compare import Options, Verdict, compare
from taskchat.gate.load import load_dir
from taskchat.gate.rules import Bump
from taskchat.gate.version import next_version

Edit = Callable[[Path, Callable[[Any], None]], None]
FAST = Options(budget=5.0)


@pytest.fixture
def gate(schema_copies: Callable[[], tuple[Path, Path]], edit: Edit) -> Callable[..., Verdict]:
    """Apply ``changes`` ({relpath: mutate(json)}) to the head copy and compare."""

    def run(changes: dict[str, Callable[[Any], None]]) -> Verdict:
        base, head = schema_copies()
        for rel, change in changes.items():
            edit(head / rel, change)
        return compare(load_dir(base), load_dir(head), options=FAST)

    return run


def _only(verdict: Verdict, change: str, subject: str | None = None) -> list[Any]:
    return [
        f
        for f in verdict.findings
        if f.change == change and (subject is None or f.subject == subject)
    ]


def test_changed_recipients_break_clients(gate: Callable[..., Verdict]) -> None:
    v = gate({"index.json": lambda d: d["events"]["user_left"].update(recipients="room")})
    [f] = _only(v, "recipients changed", "user_left")
    assert f.breaking and f.detail == "others → room"


def test_renamed_event_is_breaking_and_named_as_a_rename(gate: Callable[..., Verdict]) -> None:
    def rename(d: Any) -> None:
        d["events"]["task_changed"] = d["events"].pop("task_updated")

    v = gate({"index.json": rename})
    [f] = _only(v, "event renamed", "task_updated")
    assert f.breaking and f.detail == "to task_changed"
    assert not _only(v, "event added")


def test_added_event_is_compatible_and_needs_a_minor_version(gate: Callable[..., Verdict]) -> None:
    def add(d: Any) -> None:
        d["events"]["task_archived"] = {**d["events"]["task_updated"], "summary": "archived"}

    v = gate({"index.json": add})
    [f] = _only(v, "event added", "task_archived")
    assert not f.breaking
    assert not v.breaking
    minor = next_version(PROTOCOL_VERSION, Bump.MINOR)  # the copies carry the protocol's version
    assert (v.bump.value, v.required_version) == ("minor", minor)


def test_direction_change_breaks(gate: Callable[..., Verdict]) -> None:
    v = gate(
        {"index.json": lambda d: d["events"]["typing_stop"].update(direction="server-to-client")}
    )
    assert _only(v, "direction changed", "typing_stop")[0].breaking


def test_removed_ack_breaks_and_added_emit_does_not(gate: Callable[..., Verdict]) -> None:
    def change(d: Any) -> None:
        del d["events"]["typing_start"]["ack"]
        d["events"]["join_task"]["emits"].append("task_notification")
        d["events"]["leave_task"]["emits"].remove("user_left")

    v = gate({"index.json": change})
    assert _only(v, "ack removed", "typing_start")[0].breaking
    assert not _only(v, "emitted event added", "join_task")[0].breaking
    assert _only(v, "emitted event removed", "leave_task")[0].breaking


def test_removed_error_code_breaks_clients_that_switch_on_it(gate: Callable[..., Verdict]) -> None:
    v = gate({"defs/event-error-code.json": lambda d: d["oneOf"].pop()})
    [f] = _only(v, "error code removed", "errorCodes.event")
    assert f.breaking and f.detail == "INTERNAL"
    # the payloads that carry the code accept less: by the payload rule alone, no client breaks
    narrowed = _only(v, "enum narrowed", "error")
    assert narrowed and not narrowed[0].breaking


def test_added_error_code_reaches_clients_that_do_not_know_it(gate: Callable[..., Verdict]) -> None:
    v = gate({"defs/auth-error-code.json": lambda d: d["oneOf"].append({"const": "AUTH_REVOKED"})})
    assert _only(v, "error code added", "errorCodes.auth")[0].breaking
    [f] = _only(v, "enum widened", "connect.refused")
    assert f.breaking and f.counterexample is not None
    assert f.counterexample["instance"]["data"]["code"] == "AUTH_REVOKED"


def test_connect_auth_is_read_by_the_server(gate: Callable[..., Verdict]) -> None:
    def require_device(d: Any) -> None:
        d["properties"]["device"] = {"type": "string"}
        d["required"].append("device")

    v = gate({"connect/auth.json": require_device})
    [f] = _only(v, "required property added", "connect.auth")
    assert f.breaking and f.reader == "server" and f.counterexample is not None
    assert "device" not in f.counterexample["instance"]


def test_an_ack_is_judged_by_the_clients_that_read_it(gate: Callable[..., Verdict]) -> None:
    """A shared def shortened: the server now refuses long names (breaking), while what clients
    read in acks and events only got narrower (compatible)."""
    v = gate({"defs/attachment.json": lambda d: d["properties"]["name"].update(maxLength=100)})
    [payload] = _only(v, "maxLength lowered", "send_message")
    assert payload.breaking and payload.direction == "client-to-server"
    assert payload.counterexample is not None
    [ack] = _only(v, "maxLength lowered", "send_message.ack")
    assert not ack.breaking and ack.direction == "server-to-client" and ack.reader == "clients"
    assert not _only(v, "maxLength lowered", "new_message")[0].breaking


def test_widening_an_ack_breaks_clients(gate: Callable[..., Verdict]) -> None:
    def widen(d: Any) -> None:
        d["oneOf"][0]["properties"]["messageId"] = {"type": ["string", "integer"]}

    v = gate({"acks/delete_message.json": widen})
    [f] = _only(v, "type widened", "delete_message.ack")
    assert f.breaking and f.counterexample is not None
    assert isinstance(f.counterexample["instance"]["messageId"], int)


def test_a_new_required_field_in_messages_is_compatible_for_clients(
    gate: Callable[..., Verdict],
) -> None:
    """defs/message.json (if/then/else, nullable oneOfs) gains a required is_pinned: every
    message clients read now always carries it, which old clients (open objects) accept."""

    def pin(d: Any) -> None:
        d["properties"]["is_pinned"] = {"type": "boolean"}
        d["required"].append("is_pinned")

    v = gate({"defs/message.json": pin})
    assert not v.breaking
    assert _only(v, "required property added", "new_message")
    assert _only(v, "property added to open object", "new_message")
