"""ORDER: every socket of a room sees the same events in the same order, none twice."""

from __future__ import annotations

import threading
import time
from typing import Any

from taskchat.conformance.context import Client, Ctx
from taskchat.conformance.registry import check
from taskchat.schemas import Event

_ROOM_EVENTS = (Event.NEW_MESSAGE, Event.MESSAGE_EDITED, Event.MESSAGE_DELETED,
                Event.TASK_NOTIFICATION)


def _key(event: str, payload: Any) -> str:
    if event == Event.MESSAGE_DELETED:
        return f"{event}:{payload.get('messageId')}"
    if event == Event.TASK_NOTIFICATION:
        return f"{event}:{payload.get('message')}"
    message = payload.get("message", {})
    return f"{event}:{message.get('id')}:{message.get('message')}"


def _sequence(c: Client) -> list[str]:
    return [_key(r.event, r.args[0]) for r in list(c.conn.received) if r.event in _ROOM_EVENTS]


@check("ORDER-1", "MSG-1")
def same_order_everywhere(ctx: Ctx) -> None:
    """Three senders (and the backend, when there is a control adapter) at once on four
    sockets: every socket sees one and the same sequence, nothing twice."""
    task = ctx.room("owner", "member", "member2", "viewer")
    senders = [ctx.join(r, task) for r in ("owner", "member", "member2")]
    viewer = ctx.join("viewer", task)
    per_sender = 8
    errors: list[str] = []

    def burst(c: Client) -> None:
        try:
            for i in range(per_sender):
                msg = c.send(task, f"{c.label} {i}")
                if i % 3 == 2:
                    c.ok(Event.EDIT_MESSAGE, {"taskId": task, "messageId": msg["id"],
                                              "newMessage": f"{c.label} {i} edited"}, req="MSG-6")
                if i % 4 == 3:
                    c.ok(Event.DELETE_MESSAGE, {"taskId": task, "messageId": msg["id"]},
                         req="MSG-7")
        except Exception as exc:
            errors.append(repr(exc))

    def backend() -> None:  # backend events interleave with the messages in the room's order
        try:
            for i in range(per_sender):
                ctx.control.post_notification(task, "order", f"notification {i}")
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=burst, args=(c,)) for c in senders]
    if ctx.has_control:
        threads.append(threading.Thread(target=backend))
    for t in threads:
        t.start()
    for t in threads:
        t.join(ctx.target.timeouts.ack * per_sender * 2)
    if errors:
        ctx.fail("ORDER-1", "the concurrent sends are acknowledged", errors)
    socks = [*senders, viewer]
    ctx.barrier(senders[0], task, socks)
    sequences = {c.label: _sequence(c) for c in socks}
    reference = sequences[viewer.label]
    for label, seq in sequences.items():
        ctx.expect(len(seq) == len(set(seq)), "ORDER-1", f"{label} sees no event twice",
                   [k for k in seq if seq.count(k) > 1])
        ctx.expect(seq == reference, "ORDER-1", f"{label} sees the room's events in the order "
                   f"{viewer.label} does", {"this": seq, viewer.label: reference})


@check("ORDER-2")
def new_message_before_ack(ctx: Ctx) -> None:
    """The sender's own new_message arrives before its send_message ack."""
    task = ctx.room("member")
    a = ctx.join("member", task)
    window = ctx.target.rate_limit.window if ctx.target.rate_limit else 10.0
    for i in range(5):
        deadline = time.monotonic() + window + ctx.target.timeouts.ack
        while True:
            seen = _send_watching_order(ctx, a, task, f"order {i}")
            if seen["ok"] or time.monotonic() > deadline:
                break
            # rate limited (the users may be shared): not this check's business, try again
            time.sleep(min(1.0, window / 5))
        ctx.expect(seen["ok"] and seen["before"], "ORDER-2", "new_message arrives before the ack",
                   f"ack {'ok' if seen['ok'] else seen['ack']} came when the socket had "
                   f"received only {seen['names']}")


def _send_watching_order(ctx: Ctx, a: Client, task: str, text: str) -> dict[str, Any]:
    """Send with an ack callback, which runs on the reader thread in arrival order: whatever
    it sees in ``received`` arrived before the ack."""
    seen: dict[str, Any] = {}
    done = threading.Event()

    def on_ack(args: list[Any]) -> None:
        ack = args[0] if args else {}
        mid = ack.get("message", {}).get("id") if isinstance(ack, dict) else None
        seen["ack"] = ack
        seen["ok"] = isinstance(ack, dict) and ack.get("ok") is True
        seen["names"] = a.names()
        seen["before"] = bool(a.got(Event.NEW_MESSAGE, lambda p: p["message"]["id"] == mid))
        done.set()

    a.conn.emit_with_ack(Event.SEND_MESSAGE, {"taskId": task, "message": text}, callback=on_ack)
    if not done.wait(ctx.target.timeouts.ack):
        ctx.fail("ORDER-2", "a send_message ack", "no ack within the ack timeout")
    return seen
