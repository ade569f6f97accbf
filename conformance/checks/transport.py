"""TRANS: Engine.IO and Socket.IO below the chat protocol, checked frame by frame."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import socketio
from taskchat.conformance.context import Ctx
from taskchat.conformance.node_client import locate
from taskchat.conformance.observer import ack_violations, connect_violations, requirement_for
from taskchat.conformance.raw import Polling, RawWebSocket
from taskchat.conformance.registry import check
from taskchat.schemas import Event

DEFAULTS = {"pingInterval": 25000, "pingTimeout": 20000, "maxPayload": 1_000_000}


@check("TRANS-1", "TRANS-9")
def handshake_fields(ctx: Ctx) -> None:
    """The polling handshake's OPEN packet carries every field a client needs."""
    opened = Polling(ctx, req="TRANS-1").handshake("TRANS-1")
    ctx.expect(isinstance(opened.get("sid"), str) and opened["sid"] != "", "TRANS-1",
               "OPEN has a non-empty string sid", opened)
    ctx.expect(isinstance(opened.get("upgrades"), list) and "websocket" in opened["upgrades"],
               "TRANS-1", "OPEN lists websocket in upgrades", opened)
    for key in DEFAULTS:
        value = opened.get(key)
        if ctx.expect(isinstance(value, int) and not isinstance(value, bool) and value > 0,
                      "TRANS-1", f"OPEN has a positive integer {key}", opened):
            ctx.expect(value == DEFAULTS[key], "TRANS-9",
                       f"{key} is the Socket.IO default {DEFAULTS[key]}", f"{key} = {value}")


@check("TRANS-2", "TRANS-8")
def websocket_direct(ctx: Ctx) -> None:
    """A WebSocket-only client (no polling first) gets OPEN, then CONNECT with a sid."""
    ws = RawWebSocket(ctx, req="TRANS-2")
    opened = ws.parse(ws.expect("0", "TRANS-2", "an OPEN packet on a direct WebSocket")[1:],
                      "TRANS-2", "OPEN")
    ctx.expect(isinstance(opened.get("sid"), str) and isinstance(opened.get("upgrades"), list),
               "TRANS-2", "OPEN over WebSocket carries a sid and an upgrades list", opened)
    ws.send("40" + json.dumps({"token": ctx.user("member").token}))
    answer = ws.expect("4", "TRANS-8", "an answer to CONNECT")
    ctx.expect(answer.startswith("40{"), "TRANS-8", "CONNECT is answered with CONNECT {sid}",
               answer)
    if answer.startswith("40{"):
        payload = json.loads(answer[2:])
        ctx.expect(isinstance(payload.get("sid"), str) and bool(payload["sid"]), "TRANS-8",
                   "the CONNECT payload carries a string sid", payload)
        for level, violation in connect_violations("accepted", payload):
            ctx.finding(requirement_for(level, "DATA-1"),
                        f"CONNECT validates against connect/connect_ok.json ({level})",
                        f"{violation} in {answer}")
    # a request over this session works
    task = ctx.room("member")
    ws.send(f"420{json.dumps([Event.JOIN_TASK, task])}")
    ack = ws.expect("430", "TRANS-2", "the join_task ack over the WebSocket")
    ctx.expect(json.loads(ack[3:])[0].get("ok") is True, "TRANS-2", "join_task ok", ack)


@check("TRANS-3")
def polling_and_upgrade(ctx: Ctx) -> None:
    """Long-polling sends and receives; the session upgrades to WebSocket; a pending GET is
    released with a noop."""
    task = ctx.room("member")
    poll = Polling(ctx)
    poll.handshake("TRANS-3")
    resp = poll.post("40" + json.dumps({"token": ctx.user("member").token}))
    ctx.expect(resp.status_code == 200, "TRANS-3", "the POST of CONNECT answers 200",
               resp.status_code)
    answer = poll.receive("40", "TRANS-3", "CONNECT is answered over polling")
    ctx.expect(answer.startswith("40{"), "TRANS-3", "a CONNECT answer with a sid", answer)
    poll.post(f"420{json.dumps([Event.JOIN_TASK, task])}")
    ack = poll.receive("430", "TRANS-3", "the join_task ack over polling")
    ctx.expect(json.loads(ack[3:])[0].get("ok") is True, "TRANS-3", "join_task ok", ack)
    # upgrade: probe over a WebSocket bound to the session, while a GET is pending
    ws = RawWebSocket(ctx, "ws-upgrade", sid=poll.sid, req="TRANS-3")
    ws.send("2probe")
    ws.expect("3probe", "TRANS-3", "3probe answers 2probe")
    pending: dict[str, object] = {}

    def long_poll() -> None:
        try:
            pending["result"] = poll.get(timeout=ctx.target.timeouts.event + 2)
        except Exception as exc:
            pending["result"] = exc

    poller = threading.Thread(target=long_poll, daemon=True)
    poller.start()
    time.sleep(ctx.target.timeouts.quiet)  # let the GET reach the server before the upgrade
    ws.send("5")
    poller.join(ctx.target.timeouts.event + 3)
    result = pending.get("result")
    ctx.expect(isinstance(result, tuple) and result[0] == 200 and "6" in result[1], "TRANS-3",
               "the pending GET is released with a noop (6) on upgrade", result)
    ws.send(f"421{json.dumps([Event.LEAVE_TASK, task])}")
    ack = ws.expect("431", "TRANS-3", "the leave_task ack over the upgraded WebSocket")
    ctx.expect(json.loads(ack[3:])[0].get("ok") is True, "TRANS-3", "leave_task ok", ack)


@check("TRANS-4")
def heartbeat_slow(ctx: Ctx) -> None:
    """The server pings every pingInterval; a client that pongs stays connected past
    pingInterval + pingTimeout (or, when that exceeds timeouts.heartbeat_budget, for one ping
    interval: the report notes it)."""
    ws = RawWebSocket(ctx, req="TRANS-4")
    opened = ws.open_and_connect(ctx.user("member").token, "TRANS-4")
    interval = opened.get("pingInterval", 25000) / 1000
    timeout = opened.get("pingTimeout", 20000) / 1000
    slack = ctx.target.timeouts.ack
    start = last_ping = time.monotonic()
    watch = interval + timeout + 1.0
    one_ping = watch > ctx.target.timeouts.heartbeat_budget
    if one_ping:
        ctx.note(f"watched one ping interval, not pingInterval + pingTimeout = "
                 f"{interval + timeout:g} s: raise timeouts.heartbeat_budget to watch it all")
    pings = 0
    while (now := time.monotonic()) - start < watch and not (one_ping and pings):
        frame = ws.recv(min(start + watch - now, last_ping + interval + slack - now))
        if ws.closed:
            ctx.fail("TRANS-4", "a client that pongs stays connected",
                     f"the server closed the session after {time.monotonic() - start:.1f}s")
        if frame == "2":
            pings += 1
            last_ping = time.monotonic()
            ws.send("3")
        elif frame is None and time.monotonic() - last_ping >= interval + slack:
            ctx.fail("TRANS-4", f"a ping every pingInterval ({interval:g}s)",
                     f"none for {interval + slack:g}s")
    ctx.expect(pings >= 1, "TRANS-4", "at least one ping", f"{pings} pings")
    ws.send("421" + json.dumps([Event.LEAVE_TASK, ctx.missing_task()]))
    ws.expect("431", "TRANS-4", "the session still answers after the pongs")


@check("TRANS-5", "TRANS-12")
def max_payload(ctx: Ctx) -> None:
    """Too large a message is not processed: it closes that WebSocket; over polling it is
    refused with 413 (SHOULD) or its connection is closed or reset (allowed: D26); the server
    goes on serving the others."""
    task = ctx.room("member2")
    bystander = ctx.join("member2", task)
    ws = RawWebSocket(ctx, "ws-big", req="TRANS-5")
    opened = ws.open_and_connect(ctx.user("member").token, "TRANS-5")
    limit = opened.get("maxPayload")
    limit = limit if isinstance(limit, int) and limit > 0 else 1_000_000  # TRANS-1 judges it
    big = json.dumps([Event.TYPING_STOP, {"taskId": "x" * (limit + 10)}])
    ws.send("42" + big)
    ctx.expect(ws.wait_closed(ctx.target.timeouts.event), "TRANS-5",
               f"a {len(big)}-byte WebSocket message (maxPayload {limit}) closes the session",
               "the session stayed open")
    poll = Polling(ctx, req="TRANS-5")
    poll.handshake("TRANS-5")
    resp = poll.try_post("4" + "x" * (limit + 10))
    if isinstance(resp, str):  # closed or reset: the message was not taken (allowed, D26)
        ctx.observe()
        ctx.expect(False, "TRANS-12", "a polling POST larger than maxPayload is answered 413",
                   f"the connection was closed instead: {resp}")
    else:
        ctx.expect(resp.status_code >= 400, "TRANS-5",
                   "a polling POST larger than maxPayload is refused", f"HTTP {resp.status_code}")
        ctx.expect(resp.status_code == 413, "TRANS-12",
                   "a polling POST larger than maxPayload is answered 413",
                   f"HTTP {resp.status_code}")
    ack = bystander.call(Event.TYPING_STOP, {"taskId": task}, req="TRANS-5")
    ctx.expect(isinstance(ack, dict) and ack.get("ok") is True, "TRANS-5",
               "the server goes on serving another session", ack)


@check("TRANS-6", "TRANS-13")
def malformed_packets(ctx: Ctx) -> None:
    """Malformed Engine.IO and Socket.IO packets disturb no other session (MUST); they should
    close the session that sent them (SHOULD: answering it instead is allowed, D26)."""
    task = ctx.room("member", "member2")
    bystander = ctx.join("member2", task)
    sent = []
    for label, frame in (("engine", "9garbage"), ("socketio", "42[not json"),
                         ("socketio-type", "48[]")):
        ws = RawWebSocket(ctx, f"ws-{label}", req="TRANS-6")
        ws.open_and_connect(ctx.user("member").token, "TRANS-6")
        ws.send(frame)
        sent.append((ws, frame))
    deadline = time.monotonic() + ctx.target.timeouts.event
    for ws, frame in sent:  # the sessions were all sent their packet: one wait covers them
        ctx.expect(ws.wait_closed(max(0.05, deadline - time.monotonic())), "TRANS-13",
                   f"the malformed packet {frame!r} closes its session",
                   "the session stayed open (the server answered it instead)")
        ack = bystander.call(Event.TYPING_STOP, {"taskId": task}, req="TRANS-6")
        ctx.expect(isinstance(ack, dict) and ack.get("ok") is True, "TRANS-6",
                   f"another session goes on undisturbed after {frame!r}", ack)


@check("TRANS-7", "TRANS-14")
def unknown_namespace(ctx: Ctx) -> None:
    """A CONNECT to a namespace other than / is refused with a CONNECT_ERROR for it (MUST);
    its payload should be socket.io's {"message": "Invalid namespace"} (SHOULD)."""
    ws = RawWebSocket(ctx, req="TRANS-7")
    ws.expect("0", "TRANS-7", "an OPEN packet")
    ws.send("40/nope," + json.dumps({"token": ctx.user("member").token}))
    answer = ws.expect("4", "TRANS-7", "an answer to the CONNECT to /nope")
    if not ctx.expect(answer.startswith("44/nope,"), "TRANS-7",
                      "a CONNECT_ERROR for /nope (44/nope,…), not a CONNECT", answer):
        return
    try:
        payload = json.loads(answer[len("44/nope,"):])
    except ValueError:
        payload = None
    ctx.expect(isinstance(payload, dict) and payload.get("message") == "Invalid namespace",
               "TRANS-14", 'the CONNECT_ERROR payload is {"message": "Invalid namespace"}', answer)


@check("TRANS-10")
def one_ack_per_request(ctx: Ctx) -> None:
    """Accepted and refused requests each get exactly one ACK with their id (seen in raw
    frames: the client libraries drop a second ACK). Unknown events are ERR-5's (a SHOULD)."""
    task = ctx.room("member")
    ws = RawWebSocket(ctx, req="TRANS-10")
    ws.open_and_connect(ctx.user("member").token, "TRANS-10")
    requests_ = [
        [Event.JOIN_TASK, task],
        [Event.JOIN_TASK, task],
        [Event.SEND_MESSAGE, {"taskId": task}],
        [Event.EDIT_MESSAGE, {"taskId": task, "messageId": "nope", "newMessage": "x"}],
        [Event.TYPING_START, {"taskId": task}],
        [Event.TYPING_STOP, {"taskId": task}],
        [Event.LEAVE_TASK, task],
    ]
    for i, args in enumerate(requests_):
        ws.send(f"42{i + 10}{json.dumps(args)}")
    counts = dict.fromkeys(range(10, 10 + len(requests_)), 0)
    acks: list[str] = []
    deadline = time.monotonic() + ctx.target.timeouts.ack
    while time.monotonic() < deadline and not all(counts.values()):
        frame = ws.recv(max(0.01, deadline - time.monotonic()))
        if isinstance(frame, str) and frame.startswith("43"):
            digits = frame[2:].split("[", 1)[0]
            if digits.isdigit() and int(digits) in counts:
                counts[int(digits)] += 1
                acks.append(frame)
    deadline = time.monotonic() + ctx.target.timeouts.quiet
    while (left := deadline - time.monotonic()) > 0:
        frame = ws.recv(left)
        if isinstance(frame, str) and frame.startswith("43"):
            digits = frame[2:].split("[", 1)[0]
            if digits.isdigit() and int(digits) in counts:
                counts[int(digits)] += 1
                acks.append(frame)
    for frame in acks:
        ack_id = int(frame[2:].split("[", 1)[0])
        event = requests_[ack_id - 10][0]
        for level, violation in ack_violations(event, json.loads(frame[2 + len(str(ack_id)):])):
            ctx.finding(requirement_for(level, "DATA-1"),
                        f"the {event} ack validates against its schema ({level})",
                        f"{violation} in {frame}")
    for i, args in enumerate(requests_):
        ctx.expect(counts[i + 10] == 1, "TRANS-10", f"exactly one ACK for {args[0]} (id {i + 10})",
                   f"{counts[i + 10]} ACK packets")


_TRANSPORTS = (["websocket"], ["polling"], ["polling", "websocket"])


@check("TRANS-11")
def python_socketio_client(ctx: Ctx) -> None:
    """python-socketio's client joins a task over WebSocket, over polling, and polling
    upgraded."""
    task = ctx.room("member")
    token = ctx.user("member").token
    for transports in _TRANSPORTS:
        client = socketio.Client(reconnection=False)
        try:
            client.connect(ctx.target.url, auth={"token": token},
                           transports=transports, wait_timeout=ctx.target.timeouts.connect)
            ack = client.call(Event.JOIN_TASK, task, timeout=ctx.target.timeouts.ack)
            ctx.expect(isinstance(ack, dict) and ack.get("ok") is True, "TRANS-11",
                       f"python-socketio over {transports} joins a task", ack)
        except (socketio.exceptions.SocketIOError, OSError) as exc:
            ctx.finding("TRANS-11", f"python-socketio connects over {transports}", repr(exc))
        finally:
            client.disconnect()


@check("TRANS-15")
def socketio_client_js(ctx: Ctx) -> None:
    """The official socket.io-client 4.x, run through Node, joins a task over WebSocket, over
    polling, and polling upgraded. Skipped, with the command that installs it, when Node or
    the client is missing (see --node-modules)."""
    client = locate(ctx.target.node_modules, timeout=ctx.target.timeouts.connect + 5)
    if isinstance(client, str):
        ctx.skip(client)
    ctx.note(f"socket.io-client {client.version} from {client.where}")
    task = ctx.room("member")
    token = ctx.user("member").token
    limit = ctx.target.timeouts.connect + ctx.target.timeouts.ack + 5
    runs = [(transports, subprocess.Popen(  # the three at once: each is mostly Node starting
        client.probe_command(ctx.target.url, token, task, json.dumps(transports)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=client.env,
        cwd=Path.cwd())) for transports in _TRANSPORTS]
    for transports, proc in runs:
        try:
            out, err = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err = f"no answer within {limit:g}s; {err}"
        try:
            answer = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            answer = {"ok": False, "error": f"exit {proc.returncode}: {err[-300:]}"}
        ok = (isinstance(answer, dict) and answer.get("ok") is True
              and (answer.get("ack") or {}).get("ok") is True)
        ctx.expect(ok, "TRANS-15", f"socket.io-client 4.x over {transports} joins a task",
                   answer)
