"""The reference server with one rule broken, for showing that the suite catches it.

Run as ``python conformance_faulty_server.py FAULT serve --port 0 ...``: it patches the one rule named by
FAULT from the outside, then serves exactly as ``taskchat serve`` does. Test-only code: the
product has no switch for any of this.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from typing import Any

import orjson
from taskchat.reference_server import http_api, socketio_protocol, store
from taskchat.reference_server.auth import AuthFailure, Verifier, identity_from_claims
from taskchat.reference_server.chat import model, rules
from taskchat.reference_server.chat.effects import Emit, Reply
from taskchat.reference_server.engineio import EngineSession, OutPacket
from taskchat.schemas import ErrorCode, Event

Effects = list[Any]


def _wrap_events(edit: Callable[[rules.ChatRules, str, str, list[Any], Effects], Effects]) -> None:
    original = rules.ChatRules.handle_event

    @functools.wraps(original)
    def handle_event(self: rules.ChatRules, sid: str, event: str, args: list[Any],
                     now: float) -> Effects:
        return edit(self, sid, event, args, original(self, sid, event, args, now))

    rules.ChatRules.handle_event = handle_event  # type: ignore[method-assign]


def trans_no_max_payload() -> None:
    original = EngineSession.open_packet

    def open_packet(self: EngineSession) -> OutPacket:
        body = orjson.loads(original(self).data[1:])
        body.pop("maxPayload")
        return OutPacket(b"0" + orjson.dumps(body))

    EngineSession.open_packet = open_packet  # type: ignore[method-assign]


def trans_double_ack() -> None:
    """Two ACK packets for one typing ack ({"ok": true}): invisible through socket.io-client and
    python-socketio, which drop the second."""
    original = socketio_protocol.encode_ack

    def encode_ack(namespace: str, ack_id: int, args: Any) -> Any:
        packets = original(namespace, ack_id, args)
        return packets + packets if list(args) == [{"ok": True}] else packets

    socketio_protocol.encode_ack = encode_ack


def auth_expired_accepted() -> None:
    original = Verifier.verify

    def verify(self: Verifier, token: object) -> Any:
        try:
            return original(self, token)
        except AuthFailure as exc:
            if exc.code != ErrorCode.AUTH_EXPIRED:
                raise
            import jwt

            return identity_from_claims(jwt.decode(token, options={"verify_signature": False}))

    Verifier.verify = verify  # type: ignore[method-assign]


def _messages(effects: Effects) -> list[dict[str, Any]]:
    out = []
    for e in effects:
        payload = e.payload if isinstance(e, Emit | Reply) else None
        if isinstance(payload, dict) and isinstance(payload.get("message"), dict):
            out.append(payload["message"])
    return out


def data_local_time() -> None:
    def edit(_r: Any, _sid: str, _event: str, _args: list[Any], effects: Effects) -> Effects:
        for message in _messages(effects):
            message["created_at"] = "25/11/2026 21:00"
        return effects

    _wrap_events(edit)


def perm_viewer_comments() -> None:
    widened = model.CAN_COMMENT | {"viewer"}
    model.CAN_COMMENT = widened  # type: ignore[misc]
    rules.CAN_COMMENT = widened  # type: ignore[attr-defined]


def room_joiner_not_listed() -> None:
    def edit(r: rules.ChatRules, sid: str, event: str, _args: list[Any],
             effects: Effects) -> Effects:
        me = r.identity(sid)
        if event != Event.JOIN_TASK or me is None:
            return effects
        out = []
        for e in effects:
            if isinstance(e, Reply) and "onlineUsers" in e.payload:
                users = [u for u in e.payload["onlineUsers"] if u["userId"] != me.user_id]
                e = Reply({**e.payload, "onlineUsers": users})
            out.append(e)
        return out

    _wrap_events(edit)


def msg_untrimmed() -> None:
    def edit(_r: Any, _sid: str, event: str, args: list[Any], effects: Effects) -> Effects:
        if event == Event.SEND_MESSAGE:
            for message in _messages(effects):
                message["message"] = args[0]["message"]
        return effects

    _wrap_events(edit)


def type_echo_to_sender() -> None:
    def edit(r: rules.ChatRules, _sid: str, _event: str, _args: list[Any],
             effects: Effects) -> Effects:
        return [dataclasses.replace(e, to=r.room_sids(e.payload["taskId"]))
                if isinstance(e, Emit) and e.event == Event.USER_TYPING else e for e in effects]

    _wrap_events(edit)


def pres_no_user_left() -> None:
    def drop(effects: Effects) -> Effects:
        return [e for e in effects if not (isinstance(e, Emit) and e.event == Event.USER_LEFT)]

    _wrap_events(lambda _r, _s, _e, _a, effects: drop(effects))
    original = rules.ChatRules.disconnect
    rules.ChatRules.disconnect = (  # type: ignore[method-assign]
        lambda self, sid, now: drop(original(self, sid, now)))


def back_no_notification() -> None:
    original = rules.ChatRules.notify

    def notify(self: rules.ChatRules, *args: Any, **kwargs: Any) -> Effects:
        return [e for e in original(self, *args, **kwargs) if not isinstance(e, Emit)]

    rules.ChatRules.notify = notify  # type: ignore[method-assign]


def err_no_error_event() -> None:
    original = rules.ChatRules._refusal

    def refusal(self: rules.ChatRules, *args: Any) -> Effects:
        return [e for e in original(self, *args) if not isinstance(e, Emit)]

    rules.ChatRules._refusal = refusal  # type: ignore[method-assign]


def order_ack_first() -> None:
    def edit(_r: Any, _sid: str, event: str, _args: list[Any], effects: Effects) -> Effects:
        if event != Event.SEND_MESSAGE:
            return effects
        replies = [e for e in effects if isinstance(e, Reply)]
        return replies + [e for e in effects if not isinstance(e, Reply)]

    _wrap_events(edit)


def store_oldest_first() -> None:
    original = store.Store.history

    def history(self: store.Store, *args: Any, **kwargs: Any) -> store.HistoryPage:
        page = original(self, *args, **kwargs)
        return dataclasses.replace(page, messages=list(reversed(page.messages)))

    store.Store.history = history  # type: ignore[method-assign]


def store_forgets_on_restart() -> None:
    """Acknowledges messages it keeps only in memory: a restart loses them."""
    original = store.Store.__init__

    def init(self: store.Store, path: str = ":memory:", **kwargs: Any) -> None:
        original(self, ":memory:", **kwargs)

    store.Store.__init__ = init  # type: ignore[method-assign]


def http_health_down() -> None:
    original = http_api.HttpApi._route

    async def route(self: http_api.HttpApi, method: str, target: str, *args: Any) -> Any:
        if target.startswith("/healthz"):
            return http_api._error(ErrorCode.INTERNAL, "down for the test")
        return await original(self, method, target, *args)

    http_api.HttpApi._route = route  # type: ignore[method-assign]


def err_unknown_event_invalid() -> None:
    """A SHOULD broken: an unknown event is refused as INVALID_PAYLOAD, not UNKNOWN_EVENT."""

    def edit(_r: Any, _sid: str, _event: str, _args: list[Any], effects: Effects) -> Effects:
        out = []
        for e in effects:
            if isinstance(e, Emit) and e.payload.get("code") == ErrorCode.UNKNOWN_EVENT:
                e = dataclasses.replace(e, payload={**e.payload, "code": ErrorCode.INVALID_PAYLOAD})
            if isinstance(e, Reply) and e.payload.get("error", {}).get("code") == "UNKNOWN_EVENT":
                e = Reply({"ok": False, "error": {**e.payload["error"], "code": "INVALID_PAYLOAD"}})
            out.append(e)
        return out

    _wrap_events(edit)


def slow_but_correct() -> None:
    """Not a fault: every client event takes 50 ms longer (the event loop stalls), which a
    suite with fixed sleeps instead of event-driven waits would mistake for broken rules."""
    import time

    def edit(_r: Any, _sid: str, _event: str, _args: list[Any], effects: Effects) -> Effects:
        time.sleep(0.05)
        return effects

    _wrap_events(edit)


def contract_minimal() -> None:
    """Not a fault: what the contract requires and no more. History clamps a limit over 100
    (CONTRACT: "at most 100") instead of refusing it (D22), and error events leave out the
    optional event and taskId (D5). Only the SHOULDs that hold those decisions may complain."""
    original_history = http_api.HttpApi._history

    async def history(self: http_api.HttpApi, task_id: str, query: str, *args: Any) -> Any:
        from urllib.parse import parse_qs, urlencode

        q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if q.get("limit", "").isdigit() and int(q["limit"]) > 100:
            q["limit"] = "100"
        return await original_history(self, task_id, urlencode(q), *args)

    http_api.HttpApi._history = history  # type: ignore[method-assign]

    def edit(_r: Any, _sid: str, _event: str, _args: list[Any], effects: Effects) -> Effects:
        return [
            dataclasses.replace(e, payload={k: v for k, v in e.payload.items()
                                            if k not in ("event", "taskId")})
            if isinstance(e, Emit) and e.event == Event.ERROR else e
            for e in effects
        ]

    _wrap_events(edit)


def iso_shared_batch() -> None:
    """What the reference server did before issue 11: text that is not valid Unicode passes
    the door, and a write that fails fails its whole group commit, every client in it."""
    rules.invalid_text = lambda _value: None  # type: ignore[attr-defined]

    def commit(self: store.Store, batch: list[tuple[int, Any]]) -> dict[int, BaseException]:
        with self._writer.lock:
            c = self._writer.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                for _ticket, writes in batch:
                    for w in writes:
                        store._apply(c, w)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return {}

    store.Store._commit = commit  # type: ignore[method-assign]


def pres_disconnect_lingers() -> None:
    """A user whose last socket disconnects is announced as gone (user_left) but stays in the
    room's presence list: whoever joins later sees them in onlineUsers. Only a sequence of
    several users' steps shows it (one leaves by disconnecting, another stays, a third joins)."""
    original = rules.ChatRules.disconnect

    def disconnect(self: rules.ChatRules, sid: str, now: float) -> Effects:
        sock = self._sockets.get(sid)
        kept = []
        if sock is not None:
            for task_id in sock.rooms:
                presence = self._rooms[task_id].users.get(sock.identity.user_id)
                if presence is not None and presence.sids == {sid}:
                    kept.append((task_id, presence))
        effects = original(self, sid, now)
        for task_id, presence in kept:
            room = self._rooms.get(task_id)
            if room is not None:  # the room lives on (others are in it): the ghost stays
                room.users.setdefault(presence.identity.user_id, presence)
        return effects

    rules.ChatRules.disconnect = disconnect  # type: ignore[method-assign]


def state_notify_members_not_joined() -> None:
    """task_notification goes to every connected socket of the task's members, joined or not:
    a socket that never joined (or left) the room gets it too. The room's own sockets get it as
    they should, so a check that watches only them passes."""

    def notify(self: rules.ChatRules, task_id: str, kind: str, message: str,
               data: dict[str, Any] | None, now: float) -> Effects:
        task = self._task(task_id)
        payload: dict[str, object] = {"taskId": task_id, "type": kind, "message": message}
        if data is not None:
            payload["data"] = data
        payload["timestamp"] = model.iso(now)
        to = tuple(sid for sid, sock in self._sockets.items()
                   if sock.identity.user_id in task.members)
        return [Emit(Event.TASK_NOTIFICATION, payload, to)] if to else []

    rules.ChatRules.notify = notify  # type: ignore[method-assign]


def perm_stale_second_tab() -> None:
    """Each socket keeps the role its user had when it joined; a role change refreshes the
    user's first socket in the room only. A user with two tabs in the room who is lowered to
    viewer can still send from the second tab: stale state that takes several steps by
    several actors (two tabs join, the backend changes the role, the second tab sends)."""
    cache: dict[tuple[str, str], str] = {}  # (sid, task) -> role
    original_join = rules.ChatRules._join
    original_member = rules.ChatRules._member
    original_put = rules.ChatRules.put_member

    def join(self: rules.ChatRules, sock: Any, task_id: str, now: float) -> Effects:
        effects = original_join(self, sock, task_id, now)
        role = self.tasks[task_id].members[sock.identity.user_id].role
        cache.setdefault((sock.sid, task_id), role)
        return effects

    def member(self: rules.ChatRules, sock: Any, task_id: str, *,
               joined: bool) -> tuple[model.Task, model.Member]:
        task, m = original_member(self, sock, task_id, joined=joined)
        role = cache.get((sock.sid, task_id))
        if joined and role is not None:
            m = model.Member(m.user_id, m.user_name, role)
        return task, m

    def put_member(self: rules.ChatRules, task_id: str, user_id: str, role: str,
                   user_name: str | None, now: float) -> Any:
        result = original_put(self, task_id, user_id, role, user_name, now)
        for sid in self.room_sids(task_id):
            if self._sockets[sid].identity.user_id == user_id:
                cache[(sid, task_id)] = role
                break
        return result

    rules.ChatRules._join = join  # type: ignore[method-assign]
    rules.ChatRules._member = member  # type: ignore[method-assign]
    rules.ChatRules.put_member = put_member  # type: ignore[method-assign]


# fault -> the requirement the suite must then report broken
FAULTS: dict[str, tuple[Callable[[], None], str]] = {
    "trans_no_max_payload": (trans_no_max_payload, "TRANS-1"),
    "trans_double_ack": (trans_double_ack, "TRANS-10"),
    "auth_expired_accepted": (auth_expired_accepted, "AUTH-6"),
    "data_local_time": (data_local_time, "DATA-4"),
    "perm_viewer_comments": (perm_viewer_comments, "PERM-2"),
    "room_joiner_not_listed": (room_joiner_not_listed, "ROOM-1"),
    "msg_untrimmed": (msg_untrimmed, "MSG-2"),
    "type_echo_to_sender": (type_echo_to_sender, "TYPE-1"),
    "pres_no_user_left": (pres_no_user_left, "PRES-2"),
    "back_no_notification": (back_no_notification, "BACK-1"),
    "err_no_error_event": (err_no_error_event, "ERR-1"),
    "order_ack_first": (order_ack_first, "ORDER-2"),
    "store_oldest_first": (store_oldest_first, "STORE-2"),
    "http_health_down": (http_health_down, "HTTP-1"),
    "err_unknown_event_invalid": (err_unknown_event_invalid, "ERR-5"),
    "iso_shared_batch": (iso_shared_batch, "ISO-1"),
}
# faults between users, over several steps: the stateful phase must catch them, naming one of
# the requirements each breaks (which one depends on the session the shrinker ends with)
STATEFUL_FAULTS: dict[str, tuple[Callable[[], None], frozenset[str]]] = {
    "pres_disconnect_lingers": (pres_disconnect_lingers, frozenset({"STATE-2", "PRES-1"})),
    "state_notify_members_not_joined": (state_notify_members_not_joined,
                                        frozenset({"STATE-1", "ROOM-5", "PERM-7"})),
    "perm_stale_second_tab": (perm_stale_second_tab, frozenset({"PERM-2", "PERM-4", "PERM-6"})),
}
EXTRA_PATCHES: dict[str, Callable[[], None]] = {
    "slow_but_correct": slow_but_correct,
    "contract_minimal": contract_minimal,
    "store_forgets_on_restart": store_forgets_on_restart,  # needs a restart hook: own test
}


if __name__ == "__main__":
    patches = {**{k: f for k, (f, _) in {**FAULTS, **STATEFUL_FAULTS}.items()}, **EXTRA_PATCHES}
    patch = patches[sys.argv[1]]
    patch()
    from taskchat.cli import main

    sys.exit(main(sys.argv[2:]))
