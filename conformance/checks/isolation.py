"""ISO: one client's bytes never fail another client's request (D60-D62).

A server that commits writes in batches, and lets one write it cannot keep fail its batch,
answers every client in that batch with an error: one attacker at a few messages a second then
costs the members of every room a share of their messages. The check sends hostile payloads
from one socket while honest members of its room and of another room send at the same instant,
round after round, and asks that every honest request succeeds and every honest message arrives.
"""

from __future__ import annotations

import threading
from typing import Any

from taskchat.conformance.context import Client, Ctx, error_code, short
from taskchat.conformance.hostile import hostile, invalid_unicode
from taskchat.conformance.registry import check
from taskchat.schemas import ErrorCode, Event

from taskchat.client.connection import ClientError

_ROUNDS = 9  # honest users send one message a round: well under any rate limit
_PER_ROUND = 22  # hostile frames the attacker sends in each round, without waiting for acks


def _bases(task: str, target_id: str, cid: str) -> dict[str, Any]:
    """A valid payload of each client event with text in it, for the hostile variants."""
    return {
        Event.SEND_MESSAGE: {"taskId": task, "message": "a valid message", "clientMessageId": cid,
                             "attachments": [{"name": "a.txt", "url": "https://example.com/a",
                                              "size": 1, "mime_type": "text/plain"}]},
        Event.EDIT_MESSAGE: {"taskId": task, "messageId": target_id, "newMessage": "edited"},
        Event.DELETE_MESSAGE: {"taskId": task, "messageId": target_id},
        Event.JOIN_TASK: task,
        Event.TYPING_START: {"taskId": task},
    }


@check("ISO-1")
def hostile_neighbour(ctx: Ctx) -> None:
    """While one member sends hostile but well-framed payloads (generated from the schemas:
    lone surrogates, oversize values, broken constraints) in bursts, honest members of the
    same room and of another room send at the same instant: every honest send is acknowledged
    ok and arrives at every honest member of its room."""
    room_a = ctx.room("owner", "member")
    room_b = ctx.room("member2", "admin") if ctx.has_control else ctx.other_room()
    attacker = ctx.join("owner", room_a, label="attacker")
    honest = [(ctx.join("member", room_a), room_a), (ctx.join("member2", room_b), room_b),
              (ctx.join("admin", room_b), room_b)]
    own = attacker.send(room_a, "the attacker's own message", req="ISO-1")
    bases = _bases(room_a, own["id"], ctx.uid("cid"))
    payloads = hostile(bases)
    # every burst opens with text a store cannot encode, so that it lands beside the honest
    # sends; the attacker's own rate limit (if the server takes such text) caps it anyway
    unicode = [(event, neg) for event, valid in bases.items() for neg in invalid_unicode(valid)
               if event in (Event.SEND_MESSAGE, Event.EDIT_MESSAGE)]
    acks: list[tuple[str, Any]] = []  # (who, ack) of every honest send
    hostile_sent = 0
    lock = threading.Lock()
    for rnd in range(_ROUNDS):
        chunk = [unicode[(2 * rnd) % len(unicode)], unicode[(2 * rnd + 1) % len(unicode)],
                 *payloads[rnd * _PER_ROUND:(rnd + 1) * _PER_ROUND]]
        if not attacker.conn.connected:  # a server may close a hostile session (D15): fine
            attacker = ctx.join("owner", room_a, label=f"attacker#{rnd + 1}")
        start = threading.Barrier(1 + len(honest))
        errors: list[str] = []

        def attack(chunk: list[Any] = chunk, sock: Client = attacker,
                   start: threading.Barrier = start) -> None:
            start.wait()
            for event, neg in chunk:
                try:
                    sock.conn.emit_with_ack(event, neg.payload, callback=lambda _a: None)
                except ClientError:
                    return  # the server closed the attacker's session: its business

        def honest_send(h: Client, task: str, rnd: int = rnd, start: threading.Barrier = start,
                        errors: list[str] = errors) -> None:
            start.wait()
            try:
                (ack,) = h.conn.call(Event.SEND_MESSAGE,
                                     {"taskId": task, "message": f"honest {h.label} {rnd}"},
                                     timeout=ctx.target.timeouts.ack)
            except (ClientError, ValueError) as exc:
                with lock:
                    errors.append(f"{h.label}: {exc}")
                return
            with lock:
                acks.append((h.label, ack))

        threads = [threading.Thread(target=attack, daemon=True)]
        threads += [threading.Thread(target=honest_send, args=(h, t), daemon=True)
                    for h, t in honest]
        for t in threads:
            t.start()
        for t in threads:
            t.join(ctx.target.timeouts.ack + 5)
        hostile_sent += len(chunk)
        for e in errors:
            ctx.finding("ISO-1", "an honest send is acknowledged while another client is "
                        "hostile", e)
    # a user shared with other checks (no secret to mint fresh ones) may meet its rate limit:
    # that answer does not come from the attacker
    limited = [who for who, ack in acks if error_code(ack) == ErrorCode.RATE_LIMITED]
    if limited:
        ctx.note(f"{len(limited)} honest sends were RATE_LIMITED (shared users): not counted")
    failed = [(who, ack) for who, ack in acks if not (isinstance(ack, dict)
                                                      and ack.get("ok") is True)
              and error_code(ack) != ErrorCode.RATE_LIMITED]
    ctx.expect(not failed, "ISO-1",
               f"every honest send is acknowledged ok:true ({len(failed)} of {len(acks)} were not)",
               short([(who, error_code(ack), ack) for who, ack in failed[:5]], 1500))
    room_of = {h.label: t for h, t in honest}
    for who, ack in acks:
        if not (isinstance(ack, dict) and ack.get("ok") is True):
            continue
        mid = ack["message"]["id"]
        for h, task in honest:
            if task != room_of[who]:
                continue
            h.wait(Event.NEW_MESSAGE, lambda p, mid=mid: p["message"]["id"] == mid, req="ISO-1",
                   what=f"{who}'s message {mid} while another client was hostile")
    for h, _t in honest:
        ctx.expect(h.conn.connected, "ISO-1", f"{h.label} stays connected", h.conn.close_reason)
    ctx.note(f"{hostile_sent} hostile payloads in {_ROUNDS} bursts beside {len(acks)} honest "
             "sends")


@check("ISO-2", needs=["secret"])
def numeric_dates(ctx: Ctx) -> None:
    """A token whose exp, nbf or iat is not a JSON number (a string, a boolean, null) is
    AUTH_INVALID, also when the string spells a date far in the future."""
    for claim, value in (("exp", "9999999999"), ("exp", True), ("exp", "1"), ("nbf", "0"),
                         ("iat", "1")):
        token = ctx.target.mint(ctx.uid("nd"), name="Nora Date", ttl=None, **{claim: value})
        ctx.refused_connect({"token": token}, code=ErrorCode.AUTH_INVALID, req="ISO-2",
                            what=f"a token with {claim}: {value!r}")


@check("ISO-3")
def invalid_unicode_refused(ctx: Ctx) -> None:
    """Text that is not valid Unicode (a lone surrogate) in any string or property name of a
    client event is INVALID_PAYLOAD and changes nothing; in a token's name claim, AUTH_INVALID
    (with the secret)."""
    task = ctx.room("member", "member2")
    a = ctx.join("member", task)
    watcher = ctx.join("member2", task)
    own = a.send(task, "the message the payloads point at", req="ISO-3")
    for event, valid in _bases(task, own["id"], ctx.uid("cid")).items():
        for neg in invalid_unicode(valid):
            ack = a.call(event, neg.payload, req="ISO-3")
            ctx.expect(isinstance(ack, dict) and ack.get("ok") is False
                       and error_code(ack) == ErrorCode.INVALID_PAYLOAD, "ISO-3",
                       f"{event} with {neg.description} is INVALID_PAYLOAD", f"ack {short(ack)}")
            if not a.conn.connected:
                ctx.fail("ISO-3", "the connection stays open after such a payload",
                         f"closed ({a.conn.close_reason}) after {event}: {neg.description}")
    marker = ctx.barrier(a, task, [watcher])
    changed = [*watcher.got(Event.NEW_MESSAGE,
                            lambda p: p["message"]["id"] not in (marker["id"], own["id"])),
               *watcher.got(Event.MESSAGE_EDITED), *watcher.got(Event.MESSAGE_DELETED)]
    ctx.expect(not changed, "ISO-3", "no such payload changed anything", changed)
    if not ctx.target.can_mint:
        ctx.note("the token part needs the JWT secret: not run")
        return
    for claims in ({"name": "Eve \ud800"}, {"first_name": "\udfff", "last_name": "x"}):
        token = ctx.target.mint(ctx.uid("bad-text"), **claims)
        ctx.refused_connect({"token": token}, code=ErrorCode.AUTH_INVALID, req="ISO-3",
                            what=f"a token with {claims!r}")
