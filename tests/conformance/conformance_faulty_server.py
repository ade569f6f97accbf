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
EXTRA_PATCHES: dict[str, Callable[[], None]] = {
    "slow_but_correct": slow_but_correct,
    "contract_minimal": contract_minimal,
    "store_forgets_on_restart": store_forgets_on_restart,  # needs a restart hook: own test
}


if __name__ == "__main__":
    patch = FAULTS[sys.argv[1]][0] if sys.argv[1] in FAULTS else EXTRA_PATCHES[sys.argv[1]]
    patch()
    from taskchat.cli import main

    sys.exit(main(sys.argv[2:]))
