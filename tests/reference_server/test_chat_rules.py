"""The chat rules, driven directly (no sockets, no clock): every rule of CONTRACT §4-§7, §10.

Every emitted payload and every ack the rules produce is checked against its schema by the
harness, so each test also checks the wire shape of what it provokes.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from taskchat.reference_server.chat import (
    ChatError,
    ChatRules,
    DeleteMember,
    Effect,
    Emit,
    Identity,
    Member,
    PutMember,
    PutMessage,
    Reply,
    Task,
)
from taskchat.reference_server.chat.model import MESSAGE_FIELDS
from taskchat.schemas import ErrorCode, Event
from taskchat.schemas.protocol import ACK_ERROR_SCHEMA
from taskchat.schemas.validation import schema_for, validate

T0 = 1_764_000_000.0


class Messages:
    """A MessageLookup over a dict, fed by the PutMessage writes the rules return."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.writes: list[object] = []

    def message(self, message_id: str) -> dict[str, Any] | None:
        return self.rows.get(message_id)

    def by_client_id(self, task_id: str, user_id: str, cid: str) -> dict[str, Any] | None:
        for m in self.rows.values():
            if (m["task_id"], m["user_id"], m["client_message_id"]) == (task_id, user_id, cid):
                return m
        return None


def ident(uid: str, name: str | None = None) -> Identity:
    name = name or uid.capitalize() + " Tester"
    first, _, last = name.partition(" ")
    return Identity(uid, name, first, last, None)


class Harness:
    def __init__(self, **kw: Any) -> None:
        self.store = Messages()
        members = {
            "own": Member("own", "Own", "owner"),
            "adm": Member("adm", "Adm", "admin"),
            "mem": Member("mem", "Mem", "member"),
            "mem2": Member("mem2", "Mem2", "member"),
            "vie": Member("vie", "Vie", "viewer"),
        }
        tasks = [Task("t1", "Task one", members=dict(members)), Task("t2", "Task two", members={
            "mem": Member("mem", "Mem", "member")})]
        ids = itertools.count(1)
        self.rules = ChatRules(self.store, tasks=tasks, new_id=lambda: f"m{next(ids)}", **kw)
        self.now = T0

    def run(self, effects: list[Effect], event: str | None = None) -> list[Effect]:
        for e in effects:
            if isinstance(e, PutMessage):
                self.store.rows[e.message["id"]] = e.message
            if isinstance(e, Emit):
                assert validate(schema_for(e.event), e.payload) == [], (e.event, e.payload)
                assert e.to, "an emit to nobody should not be produced"
            if isinstance(e, Reply):
                assert event is not None
                try:
                    rel = schema_for(event, "ack")
                except KeyError:  # an unknown event: only the ok:false form applies
                    rel = ACK_ERROR_SCHEMA
                assert validate(rel, e.payload) == [], (event, e.payload)
            if isinstance(e, PutMessage | PutMember | DeleteMember):
                self.store.writes.append(e)
        return effects

    def connect(self, sid: str, uid: str) -> str:
        self.rules.connect(sid, ident(uid))
        return sid

    def ev(self, sid: str, event: str, *args: object) -> list[Effect]:
        effects = self.rules.handle_event(sid, event, list(args), self.now)
        assert sum(isinstance(e, Reply) for e in effects) == 1, "every request gets one reply"
        assert isinstance(effects[-1], Reply), "the reply comes last"
        return self.run(effects, event)

    def joined(self, sid: str, uid: str, task: str = "t1") -> str:
        self.connect(sid, uid)
        assert reply(self.ev(sid, Event.JOIN_TASK, task))["ok"] is True
        return sid

    def send(self, sid: str, text: str = "hi", task: str = "t1", **extra: object) -> list[Effect]:
        return self.ev(sid, Event.SEND_MESSAGE, {"taskId": task, "message": text, **extra})


def reply(effects: list[Effect]) -> dict[str, Any]:
    last = effects[-1]
    assert isinstance(last, Reply)
    return last.payload


def emits(effects: list[Effect], event: str | None = None) -> list[Emit]:
    return [e for e in effects if isinstance(e, Emit) and (event is None or e.event == event)]


def refused(effects: list[Effect], code: str, event: str, task: str | None = "t1") -> None:
    """ERR-1/ERR-2/D5: the error event to the sender, then the ok:false ack, same code."""
    assert len(effects) == 2, effects
    err, ack = effects
    assert isinstance(err, Emit) and err.event == Event.ERROR
    assert err.payload["code"] == code, err.payload  # type: ignore[index]
    assert err.payload["event"] == event  # type: ignore[index]
    if task is not None:
        assert err.payload["taskId"] == task  # type: ignore[index]
    assert isinstance(ack, Reply)
    assert ack.payload["ok"] is False and ack.payload["error"]["code"] == code  # type: ignore[index]


@pytest.fixture
def h() -> Harness:
    return Harness()


# ---------------------------------------------------------------- join / leave / presence


def test_join_acks_online_users_including_the_joiner(h: Harness) -> None:
    h.connect("a", "mem")
    ack = reply(h.ev("a", Event.JOIN_TASK, "t1"))
    assert ack["taskId"] == "t1"
    assert [u["userId"] for u in ack["onlineUsers"]] == ["mem"]
    assert ack["onlineUsers"][0]["userName"] == "Mem Tester"


def test_user_joined_goes_to_others_on_the_users_first_socket_only(h: Harness) -> None:
    h.joined("a", "mem")
    h.connect("b", "own")
    eff = h.ev("b", Event.JOIN_TASK, "t1")
    (joined,) = emits(eff, Event.USER_JOINED)
    assert joined.to == ("a",)
    assert joined.payload["userId"] == "own"  # type: ignore[index]
    h.connect("b2", "own")  # the same user's second tab
    eff = h.ev("b2", Event.JOIN_TASK, "t1")
    assert emits(eff) == []
    assert [u["userId"] for u in reply(eff)["onlineUsers"]] == ["mem", "own"]  # once per user


def test_join_twice_is_a_noop_with_the_same_ack(h: Harness) -> None:
    h.joined("a", "mem")
    h.joined("b", "own")
    eff = h.ev("b", Event.JOIN_TASK, "t1")
    assert emits(eff) == []
    assert reply(eff)["ok"] is True and len(reply(eff)["onlineUsers"]) == 2


def test_join_refusals(h: Harness) -> None:
    h.connect("x", "stranger")
    refused(h.ev("x", Event.JOIN_TASK, "t1"), ErrorCode.FORBIDDEN, "join_task")
    refused(h.ev("x", Event.JOIN_TASK, "nope"), ErrorCode.TASK_NOT_FOUND, "join_task", "nope")
    refused(h.ev("x", Event.JOIN_TASK, ""), ErrorCode.INVALID_PAYLOAD, "join_task", None)
    refused(h.ev("x", Event.JOIN_TASK, {"taskId": "t1"}), ErrorCode.INVALID_PAYLOAD, "join_task")
    refused(h.ev("x", Event.JOIN_TASK, "t" * 129), ErrorCode.INVALID_PAYLOAD, "join_task", None)


def test_leave_when_not_in_the_room_is_a_noop_success(h: Harness) -> None:
    h.connect("a", "mem")
    eff = h.ev("a", Event.LEAVE_TASK, "t1")
    assert emits(eff) == [] and reply(eff) == {"ok": True, "taskId": "t1"}


def test_user_left_only_when_the_last_socket_leaves_and_nothing_reaches_a_left_socket(
    h: Harness,
) -> None:
    h.joined("a", "mem")
    h.joined("b1", "own")
    h.joined("b2", "own")
    assert emits(h.ev("b1", Event.LEAVE_TASK, "t1")) == []  # b2 still there
    eff = h.ev("b2", Event.LEAVE_TASK, "t1")
    (left,) = emits(eff, Event.USER_LEFT)
    assert left.to == ("a",) and left.payload["userId"] == "own"  # type: ignore[index]
    (new,) = emits(h.send("a"), Event.NEW_MESSAGE)
    assert new.to == ("a",)  # ROOM-5: b1 and b2 receive nothing more


def test_disconnect_announces_user_left_per_room(h: Harness) -> None:
    h.joined("a", "mem")
    h.joined("a2", "mem", "t2")
    h.connect("b", "mem")
    h.ev("b", Event.JOIN_TASK, "t2")
    h.joined("c", "own")
    eff = h.run(h.rules.disconnect("a", h.now))
    assert [(e.event, e.to) for e in emits(eff)] == [(Event.USER_LEFT, ("c",))]
    assert h.rules.disconnect("a", h.now) == []  # twice: nothing


# ---------------------------------------------------------------- send_message


def test_send_stores_then_broadcasts_to_the_room_then_acks(h: Harness) -> None:
    h.joined("a", "mem")
    h.joined("b", "own")
    eff = h.send("a", "  hello world \n", attachments=[{"name": "f", "url": "https://x.test/f"}])
    put, new, _ack = eff
    assert isinstance(put, PutMessage)
    assert isinstance(new, Emit) and new.event == Event.NEW_MESSAGE and new.to == ("a", "b")
    msg = new.payload["message"]  # type: ignore[index]
    assert msg["message"] == "hello world"  # stored trimmed
    assert msg["user_id"] == "mem" and msg["first_name"] == "Mem" and msg["last_name"] == "Tester"
    assert msg["avatar_url"] is None and msg["is_edited"] is False
    assert msg["created_at"] == "2025-11-24T16:00:00.000Z"
    assert reply(eff) == {"ok": True, "message": msg}
    # the socket side carries exactly the contract's 13 fields (CONTRACT §3); the stored row
    # also keeps the tombstone fields that history shows
    assert list(msg) == list(MESSAGE_FIELDS) and len(MESSAGE_FIELDS) == 13
    assert put.message == {**msg, "is_deleted": False, "deleted_at": None}


@pytest.mark.parametrize(
    "payload",
    [
        {"taskId": "t1", "message": "   "},
        {"taskId": "t1", "message": "x" * 5001},
        {"taskId": "t1", "message": "hi", "attachments": [{"name": "a", "url": "https://x.t/"}] * 11},
        {"taskId": "t1", "message": "hi", "attachments": [{"name": "a", "url": "javascript:alert(1)"}]},
        {"taskId": "t1", "message": "hi", "messageID": "typo"},
        {"taskId": "t1"},
        b"binary",
        "t1",
    ],
)
def test_send_invalid_payload_changes_nothing(h: Harness, payload: object) -> None:
    h.joined("a", "mem")
    eff = h.ev("a", Event.SEND_MESSAGE, payload)
    refused(eff, ErrorCode.INVALID_PAYLOAD, "send_message", None)
    assert h.store.rows == {}


def test_a_huge_invalid_payload_gets_a_short_error(h: Harness) -> None:
    h.joined("a", "mem")
    bad = {"taskId": "t1", "message": "x", "attachments": [{"url": "javascript:x"}] * 50_000}
    err = emits(h.ev("a", Event.SEND_MESSAGE, bad))[0].payload
    assert err["code"] == ErrorCode.INVALID_PAYLOAD and len(err["message"]) <= 300  # type: ignore[index]
    err = emits(h.ev("a", Event.JOIN_TASK, "t" * 500_000))[0].payload
    assert "taskId" not in err and len(err["message"]) <= 300  # type: ignore[index,operator]


def test_send_text_limit_counts_code_points_after_trimming(h: Harness) -> None:
    h.joined("a", "mem")
    assert reply(h.send("a", "  " + "é" * 5000 + "  "))["ok"] is True


def test_wrong_argument_count_is_invalid_payload(h: Harness) -> None:
    h.joined("a", "mem")
    refused(h.ev("a", Event.JOIN_TASK), ErrorCode.INVALID_PAYLOAD, "join_task", None)
    refused(h.ev("a", Event.JOIN_TASK, "t1", "t2"), ErrorCode.INVALID_PAYLOAD, "join_task", None)


def test_error_precedence(h: Harness) -> None:
    """ERR-3: INVALID_PAYLOAD, TASK_NOT_FOUND, FORBIDDEN(member), NOT_JOINED, FORBIDDEN(role),
    MESSAGE_NOT_FOUND, RATE_LIMITED."""
    h.connect("x", "stranger")
    h.connect("v", "vie")
    refused(h.send("x", " ", task="nope"), ErrorCode.INVALID_PAYLOAD, "send_message", "nope")
    refused(h.send("x", task="nope"), ErrorCode.TASK_NOT_FOUND, "send_message", "nope")
    refused(h.send("x"), ErrorCode.FORBIDDEN, "send_message")  # not a member, not joined
    refused(h.send("v", replyTo="ghost"), ErrorCode.NOT_JOINED, "send_message")
    h.ev("v", Event.JOIN_TASK, "t1")
    refused(h.send("v", replyTo="ghost"), ErrorCode.FORBIDDEN, "send_message")  # role
    h.joined("a", "mem")
    refused(h.send("a", replyTo="ghost"), ErrorCode.MESSAGE_NOT_FOUND, "send_message")


def test_viewer_may_join_and_read_but_not_send_type_edit_or_delete(h: Harness) -> None:
    h.joined("v", "vie")
    h.joined("a", "mem")
    (new,) = emits(h.send("a"), Event.NEW_MESSAGE)
    assert "v" in new.to
    mid = reply(h.send("a"))["message"]["id"]
    refused(h.send("v"), ErrorCode.FORBIDDEN, "send_message")
    refused(h.ev("v", Event.TYPING_START, {"taskId": "t1"}), ErrorCode.FORBIDDEN, "typing_start")
    edit = {"taskId": "t1", "messageId": mid, "newMessage": "x"}
    refused(h.ev("v", Event.EDIT_MESSAGE, edit), ErrorCode.FORBIDDEN, "edit_message")
    refused(
        h.ev("v", Event.DELETE_MESSAGE, {"taskId": "t1", "messageId": mid}),
        ErrorCode.FORBIDDEN,
        "delete_message",
    )


def test_reply_to_must_be_a_message_of_the_same_task_deleted_allowed(h: Harness) -> None:
    h.joined("a", "mem")
    h.ev("a", Event.JOIN_TASK, "t2")
    other = reply(h.send("a", task="t2"))["message"]["id"]
    refused(h.send("a", replyTo=other), ErrorCode.MESSAGE_NOT_FOUND, "send_message")
    mine = reply(h.send("a"))["message"]["id"]
    h.ev("a", Event.DELETE_MESSAGE, {"taskId": "t1", "messageId": mine})
    assert reply(h.send("a", replyTo=mine))["message"]["reply_to"] == mine


def test_repeated_client_message_id_returns_the_original_without_broadcast(h: Harness) -> None:
    h.joined("a", "mem")
    h.joined("b", "own")
    first = reply(h.send("a", "one", clientMessageId="c-1"))["message"]
    h.run(h.rules.disconnect("a", h.now))
    h.joined("a-again", "mem")  # a reconnect: a new socket of the same user
    eff = h.send("a-again", "one (retry)", clientMessageId="c-1")
    assert eff == [Reply({"ok": True, "message": first})]
    assert len(h.store.rows) == 1
    # another user, or another task, may reuse the same client id
    assert reply(h.send("b", "b's", clientMessageId="c-1"))["message"]["id"] != first["id"]


def test_a_retry_of_a_since_deleted_message_answers_its_tombstone(h: Harness) -> None:
    h.joined("a", "mem")
    mid = reply(h.send("a", "secret", clientMessageId="c-9"))["message"]["id"]
    h.ev("a", Event.DELETE_MESSAGE, {"taskId": "t1", "messageId": mid})
    again = reply(h.send("a", "secret", clientMessageId="c-9"))["message"]  # schema-checked
    assert again["id"] == mid and again["is_deleted"] is True and again["message"] == ""
    assert set(again) == {*MESSAGE_FIELDS, "is_deleted", "deleted_at"}  # D50


def test_rate_limit_per_user_across_sockets_with_dedup_first_and_a_window() -> None:
    h = Harness(rate_limit=3, rate_window=10.0)
    h.joined("a1", "mem")
    h.joined("a2", "mem")
    first = reply(h.send("a1", clientMessageId="k"))["message"]
    reply(h.send("a2"))
    mid = reply(h.send("a1"))["message"]["id"]
    refused(h.send("a2"), ErrorCode.RATE_LIMITED, "send_message")
    edit = {"taskId": "t1", "messageId": mid, "newMessage": "x"}
    refused(h.ev("a1", Event.EDIT_MESSAGE, edit), ErrorCode.RATE_LIMITED, "edit_message")
    assert reply(h.send("a1", clientMessageId="k"))["message"] == first  # dedup before limit
    h.joined("b", "mem2")
    assert reply(h.send("b"))["ok"] is True  # another user is not limited
    h.now += 10.0
    assert reply(h.send("a2"))["ok"] is True  # the window passed


# ---------------------------------------------------------------- edit / delete


def test_a_rate_limit_of_zero_switches_the_limit_off() -> None:
    h = Harness(rate_limit=0)
    h.joined("a", "mem")
    assert all(reply(h.send("a", f"m{i}"))["ok"] for i in range(50))


def test_edit_by_the_author(h: Harness) -> None:
    h.joined("a", "mem")
    h.joined("b", "own")
    mid = reply(h.send("a", "old"))["message"]["id"]
    h.now += 2.5
    eff = h.ev("a", Event.EDIT_MESSAGE, {"taskId": "t1", "messageId": mid, "newMessage": " new "})
    put, edited, ack = eff
    assert isinstance(put, PutMessage) and isinstance(edited, Emit)
    assert edited.event == Event.MESSAGE_EDITED and edited.to == ("a", "b")
    msg = ack.payload["message"]  # type: ignore[union-attr]
    assert msg["message"] == "new" and msg["is_edited"] is True
    assert edited.payload["message"] == msg and list(msg) == list(MESSAGE_FIELDS)  # type: ignore[index]
    assert msg["updated_at"] == "2025-11-24T16:00:02.500Z" != msg["created_at"]
    assert h.store.rows[mid]["message"] == "new"


def test_only_the_author_may_edit_not_even_the_owner(h: Harness) -> None:
    h.joined("a", "mem")
    h.joined("o", "own")
    mid = reply(h.send("a"))["message"]["id"]
    edit = {"taskId": "t1", "messageId": mid, "newMessage": "x"}
    refused(h.ev("o", Event.EDIT_MESSAGE, edit), ErrorCode.FORBIDDEN, "edit_message")
    assert h.store.rows[mid]["message"] == "hi"


def test_edit_or_delete_of_missing_foreign_or_deleted_message(h: Harness) -> None:
    h.joined("a", "mem")
    h.ev("a", Event.JOIN_TASK, "t2")
    other = reply(h.send("a", task="t2"))["message"]["id"]
    mine = reply(h.send("a"))["message"]["id"]
    assert reply(h.ev("a", Event.DELETE_MESSAGE, {"taskId": "t1", "messageId": mine}))["ok"]
    for mid in ("ghost", other, mine):
        edit = {"taskId": "t1", "messageId": mid, "newMessage": "x"}
        refused(h.ev("a", Event.EDIT_MESSAGE, edit), ErrorCode.MESSAGE_NOT_FOUND, "edit_message")
        refused(
            h.ev("a", Event.DELETE_MESSAGE, {"taskId": "t1", "messageId": mid}),
            ErrorCode.MESSAGE_NOT_FOUND,
            "delete_message",
        )


def test_delete_permissions_and_tombstone(h: Harness) -> None:
    h.joined("a", "mem")
    h.joined("b", "mem2")
    h.joined("o", "own")
    h.joined("d", "adm")
    m1 = reply(h.send("a"))["message"]["id"]
    m2 = reply(h.send("a"))["message"]["id"]
    m3 = reply(h.send("a"))["message"]["id"]
    refused(
        h.ev("b", Event.DELETE_MESSAGE, {"taskId": "t1", "messageId": m1}),
        ErrorCode.FORBIDDEN,
        "delete_message",
    )
    for sid, mid in (("a", m1), ("o", m2), ("d", m3)):
        eff = h.ev(sid, Event.DELETE_MESSAGE, {"taskId": "t1", "messageId": mid})
        put, gone, _ack = eff
        assert isinstance(put, PutMessage) and put.message["is_deleted"] is True
        assert put.message["deleted_at"] is not None
        assert isinstance(gone, Emit) and gone.event == Event.MESSAGE_DELETED
        assert gone.payload == {"taskId": "t1", "messageId": mid} and set(gone.to) == set("abod")
        assert reply(eff) == {"ok": True, "messageId": mid}


def test_not_joined_is_refused_for_every_room_request(h: Harness) -> None:
    h.connect("a", "mem")
    for event, payload in [
        (Event.SEND_MESSAGE, {"taskId": "t1", "message": "x"}),
        (Event.EDIT_MESSAGE, {"taskId": "t1", "messageId": "m", "newMessage": "x"}),
        (Event.DELETE_MESSAGE, {"taskId": "t1", "messageId": "m"}),
        (Event.TYPING_START, {"taskId": "t1"}),
        (Event.TYPING_STOP, {"taskId": "t1"}),
    ]:
        refused(h.ev("a", event, payload), ErrorCode.NOT_JOINED, event)


def test_unknown_events_including_server_event_names(h: Harness) -> None:
    h.connect("a", "mem")
    eff = h.rules.handle_event("a", "x" * 100_000, [], h.now)
    assert len(emits(eff)[0].payload["event"]) == 128  # type: ignore[index]
    for name in ("shout", Event.NEW_MESSAGE):
        eff = h.rules.handle_event("a", name, [{}], h.now)
        err, ack = eff
        assert isinstance(err, Emit) and err.payload["code"] == ErrorCode.UNKNOWN_EVENT  # type: ignore[index]
        assert err.payload["event"] == name  # type: ignore[index]
        assert isinstance(ack, Reply) and ack.payload["ok"] is False


# ---------------------------------------------------------------- typing


def test_typing_transitions_only_and_to_the_users_other_tabs(h: Harness) -> None:
    h.joined("a1", "mem")
    h.joined("a2", "mem")
    h.joined("b", "own")
    (typing,) = emits(h.ev("a1", Event.TYPING_START, {"taskId": "t1"}))
    assert typing.event == Event.USER_TYPING and typing.to == ("a2", "b")
    assert typing.payload == {"taskId": "t1", "userId": "mem", "userName": "Mem Tester"}
    assert emits(h.ev("a2", Event.TYPING_START, {"taskId": "t1"})) == []  # D10: per user
    (stopped,) = emits(h.ev("a2", Event.TYPING_STOP, {"taskId": "t1"}))
    assert stopped.event == Event.USER_STOPPED_TYPING and stopped.to == ("a1", "b")
    assert emits(h.ev("a1", Event.TYPING_STOP, {"taskId": "t1"})) == []  # not typing
    assert reply(h.ev("a1", Event.TYPING_STOP, {"taskId": "t1"})) == {"ok": True}


def test_typing_expires_five_seconds_after_the_last_start(h: Harness) -> None:
    h.joined("a", "mem")
    h.joined("b", "own")
    h.ev("a", Event.TYPING_START, {"taskId": "t1"})
    h.now += 3
    h.ev("a", Event.TYPING_START, {"taskId": "t1"})  # refreshes the deadline
    assert h.rules.next_deadline() == h.now + 5
    assert h.rules.tick(h.now + 4.9) == []
    (stopped,) = emits(h.run(h.rules.tick(h.now + 5)))
    assert stopped.event == Event.USER_STOPPED_TYPING and set(stopped.to) == {"a", "b"}
    assert h.rules.next_deadline() is None


def test_sending_while_typing_stops_typing_before_new_message(h: Harness) -> None:
    h.joined("a", "mem")
    h.joined("b", "own")
    h.ev("a", Event.TYPING_START, {"taskId": "t1"})
    events = [e.event for e in emits(h.send("a"))]
    assert events == [Event.USER_STOPPED_TYPING, Event.NEW_MESSAGE]
    assert [e.event for e in emits(h.send("a"))] == [Event.NEW_MESSAGE]  # only once


@pytest.mark.parametrize("how", ["leave", "disconnect", "removal"])
def test_a_typing_user_who_leaves_stops_typing_before_user_left(h: Harness, how: str) -> None:
    h.joined("a", "mem")
    h.joined("b", "own")
    h.ev("a", Event.TYPING_START, {"taskId": "t1"})
    if how == "leave":
        eff = h.ev("a", Event.LEAVE_TASK, "t1")
    elif how == "disconnect":
        eff = h.run(h.rules.disconnect("a", h.now))
    else:
        eff = h.run(h.rules.remove_member("t1", "mem", h.now))
    tail = [(e.event, e.to) for e in emits(eff)][-2:]
    assert tail == [(Event.USER_STOPPED_TYPING, ("b",)), (Event.USER_LEFT, ("b",))]
    assert h.rules.next_deadline() is None


# ---------------------------------------------------------------- admin operations


def test_put_member_added_then_updated_reaches_the_room(h: Harness) -> None:
    h.joined("a", "mem")
    h.connect("n", "newbie")
    member, eff = h.rules.put_member("t1", "newbie", "member", None, h.now)
    h.run(eff)
    assert member.user_name == "Newbie Tester"  # known from the connected socket's token
    (changed,) = emits(eff)
    assert changed.payload["action"] == "added" and changed.to == ("a",)  # type: ignore[index]
    assert reply(h.ev("n", Event.JOIN_TASK, "t1"))["ok"] is True
    _m, eff = h.rules.put_member("t1", "newbie", "viewer", "New Name", h.now)
    (changed,) = emits(h.run(eff))
    assert changed.payload["action"] == "updated" and set(changed.to) == {"a", "n"}  # type: ignore[index]
    assert changed.payload["member"] == {"userId": "newbie", "userName": "New Name", "role": "viewer"}  # type: ignore[index]
    assert any(isinstance(w, PutMember) and w.role == "viewer" for w in eff)


def test_a_lowered_role_is_refused_at_once(h: Harness) -> None:
    h.joined("a", "mem")
    h.run(h.rules.put_member("t1", "mem", "viewer", None, h.now)[1])
    refused(h.send("a"), ErrorCode.FORBIDDEN, "send_message")


def test_removal_order_and_eviction(h: Harness) -> None:
    h.joined("a1", "mem")
    h.joined("a2", "mem")
    h.joined("b", "own")
    eff = h.run(h.rules.remove_member("t1", "mem", h.now))
    assert isinstance(eff[0], DeleteMember)
    (changed, left) = emits(eff)
    assert changed.event == Event.MEMBER_CHANGED and set(changed.to) == {"a1", "a2", "b"}
    assert changed.payload["action"] == "removed"  # type: ignore[index]
    assert left.event == Event.USER_LEFT and left.to == ("b",)
    (new,) = emits(h.send("b"), Event.NEW_MESSAGE)
    assert new.to == ("b",)  # the removed sockets receive nothing more
    refused(h.send("a1"), ErrorCode.FORBIDDEN, "send_message")
    refused(h.ev("a1", Event.LEAVE_TASK, "t1"), ErrorCode.FORBIDDEN, "leave_task")
    assert h.rules.remove_member("t1", "mem", h.now) == []  # already gone: nothing happens


def test_task_update_and_notification_reach_every_socket(h: Harness) -> None:
    h.joined("a", "mem")
    h.joined("b", "own")
    (upd,) = emits(h.run(h.rules.update_task("t1", {"title": "New", "status": "done"}, "root", h.now)))
    assert upd.event == Event.TASK_UPDATED and upd.to == ("a", "b")
    assert upd.payload["updatedBy"] == "root"  # type: ignore[index]
    assert h.rules.tasks["t1"].title == "New"
    (note,) = emits(h.run(h.rules.notify("t1", "deadline", "Due soon", {"in": 3}, h.now)))
    assert note.event == Event.TASK_NOTIFICATION and note.to == ("a", "b")
    assert note.payload["data"] == {"in": 3}  # type: ignore[index]
    with pytest.raises(ChatError) as err:
        h.rules.notify("nope", "x", "y", None, h.now)
    assert err.value.code == ErrorCode.TASK_NOT_FOUND


def test_create_task_then_join_needs_membership(h: Harness) -> None:
    task, eff = h.rules.create_task("t9", "Nine")
    assert task.task_id == "t9" and eff
    h.connect("a", "mem")
    refused(h.ev("a", Event.JOIN_TASK, "t9"), ErrorCode.FORBIDDEN, "join_task", "t9")
    h.rules.put_member("t9", "mem", "owner", None, h.now)
    assert reply(h.ev("a", Event.JOIN_TASK, "t9"))["ok"] is True


def test_internal_error_fails_only_that_request(h: Harness) -> None:
    h.joined("a", "mem")
    refused(h.rules.internal_error("a", "send_message", [{"taskId": "t1"}]), ErrorCode.INTERNAL, "send_message")
    assert reply(h.send("a"))["ok"] is True


# ---------------------------------------------------------------- the inlined validators

_CORPUS: list[object] = [
    "t1", "", "x" * 128, "x" * 129, 7, None, b"bytes", [], {},
    {"taskId": "t1"}, {"taskId": ""}, {"taskId": "t1", "extra": 1}, {"taskId": 5},
    {"taskId": "t1", "message": "hi"}, {"taskId": "t1", "message": "  "},
    {"taskId": "t1", "message": "x" * 5000}, {"taskId": "t1", "message": " " + "x" * 5000 + " "},
    {"taskId": "t1", "message": "x" * 5001}, {"taskId": "t1", "message": "hi", "replyTo": None},
    {"taskId": "t1", "message": "hi", "replyTo": ""}, {"taskId": "t1", "message": "hi", "clientMessageId": "c"},
    {"taskId": "t1", "message": "hi", "clientMessageId": 3},
    {"taskId": "t1", "message": "hi", "attachments": [{"name": "a", "url": "https://x.test/a", "size": 3}]},
    {"taskId": "t1", "message": "hi", "attachments": [{"name": "a", "url": "https://x.test/a", "x": 1}]},
    {"taskId": "t1", "message": "hi", "attachments": [{"name": "a", "url": "data:text/html,x"}]},
    {"taskId": "t1", "message": "hi", "attachments": [{"name": "a", "url": "https://x.test/a", "size": -1}]},
    {"taskId": "t1", "message": "hi", "attachments": [{"name": "a", "url": "https://x/a"}] * 11},
    {"taskId": "t1", "messageId": "m"}, {"taskId": "t1", "messageId": "m", "newMessage": "n"},
    {"taskId": "t1", "messageId": "m", "newMessage": " "}, {"taskId": "t1", "messageId": "", "newMessage": "n"},
]


@pytest.mark.parametrize("event", [
    Event.JOIN_TASK, Event.LEAVE_TASK, Event.SEND_MESSAGE, Event.EDIT_MESSAGE,
    Event.DELETE_MESSAGE, Event.TYPING_START, Event.TYPING_STOP,
])
def test_inlined_validators_accept_exactly_what_the_schemas_accept(event: str) -> None:
    from taskchat.reference_server.chat.validators import fast_validator
    from taskchat.schemas.validation import validator_for

    rel = schema_for(event)
    verdicts = [validator_for(rel).is_valid(p) for p in _CORPUS]
    assert [fast_validator(rel).is_valid(p) for p in _CORPUS] == verdicts
    assert any(verdicts) and not all(verdicts)  # the corpus exercises both outcomes


# ---------------------------------------------------------------- no input breaks the rules

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "taskId": st.sampled_from(["t1", "t2", "nope", ""]) | _json,
        "message": st.sampled_from(["hi", " ", "x" * 5001]) | _json,
        "messageId": st.sampled_from(["m1", "m2", "ghost"]) | _json,
        "newMessage": st.sampled_from(["edited", ""]) | _json,
        "clientMessageId": st.sampled_from(["c1", None]) | _json,
        "replyTo": st.sampled_from(["m1", None]) | _json,
        "attachments": st.lists(st.fixed_dictionaries({"name": st.text(max_size=5), "url": st.sampled_from(["https://x/a", "javascript:x"])}), max_size=2) | _json,
    },
)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "v"]),
            st.sampled_from([*(e for e in Event), "junk"]),
            st.lists(_fields | _json | st.sampled_from(["t1", "t2", b"bin"]), max_size=2),
        ),
        max_size=12,
    )
)
def test_any_sequence_of_client_events_gets_one_reply_each_and_valid_output(
    steps: list[tuple[str, str, list[object]]],
) -> None:
    h = Harness(rate_limit=5)
    h.joined("a", "mem")
    h.joined("b", "own")
    h.connect("v", "vie")
    for sid, event, args in steps:
        h.ev(sid, event, *args)  # the harness checks one reply per request and every schema
        h.now += 0.5
        h.run(h.rules.tick(h.now))
    for sid in ("a", "b", "v"):
        h.run(h.rules.disconnect(sid, h.now))
    assert h.rules.next_deadline() is None and h.rules.room_sids("t1") == ()


_ACCEPTED_FAST: list[object] = [
    "t1", "x" * 128,
    {"taskId": "t1"}, {"taskId": "t1", "messageId": "m"},
    {"taskId": "t1", "message": "hi"}, {"taskId": "t1", "message": " hi\n"},
    {"taskId": "t1", "message": "hi", "replyTo": None, "clientMessageId": "c"},
    {"taskId": "t1", "message": "hi", "replyTo": "m", "clientMessageId": None},
    {"taskId": "t1", "messageId": "m", "newMessage": "n"},
]


@pytest.mark.parametrize("event", [
    Event.JOIN_TASK, Event.LEAVE_TASK, Event.SEND_MESSAGE, Event.EDIT_MESSAGE,
    Event.DELETE_MESSAGE, Event.TYPING_START, Event.TYPING_STOP,
])
def test_the_fast_pre_check_accepts_only_what_the_schema_accepts(event: str) -> None:
    from taskchat.reference_server.chat.validators import fast_accept
    from taskchat.schemas.validation import validator_for

    rel = schema_for(event)
    accept = fast_accept(rel)
    assert accept is not None  # every client event has the shape the pre-check handles
    original = validator_for(rel)
    for p in _CORPUS + _ACCEPTED_FAST:
        if accept(p):
            assert original.is_valid(p), p
        elif not isinstance(p, dict) or "attachments" not in p:
            # without attachments the pre-check is exact: a refusal is the schema's too
            assert not original.is_valid(p), p
    # the common payloads take the fast path
    assert any(accept(p) for p in _ACCEPTED_FAST)


@settings(max_examples=400, deadline=None, database=None)
@given(payload=_fields | _json)
def test_the_fast_pre_check_never_accepts_an_invalid_payload(payload: object) -> None:
    from taskchat.reference_server.chat.validators import fast_accept
    from taskchat.schemas.validation import validator_for

    for event in (Event.SEND_MESSAGE, Event.EDIT_MESSAGE, Event.JOIN_TASK, Event.TYPING_START):
        rel = schema_for(event)
        accept = fast_accept(rel)
        assert accept is not None
        verdict = validator_for(rel).is_valid(payload)
        if accept(payload):
            assert verdict, (event, payload)
        elif not (isinstance(payload, dict) and "attachments" in payload):
            assert not verdict, (event, payload)
