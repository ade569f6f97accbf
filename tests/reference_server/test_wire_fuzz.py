"""Property-based fuzzing of the sans-IO wire core (Engine.IO session + Socket.IO layer).

Random and mutated Engine.IO / Socket.IO frames, polling payloads, probe messages, timer ticks
and server-side answers are thrown at one session; no exception may escape, a closed session
stays closed and silent, and a second session alongside is never touched.
"""

from __future__ import annotations

import contextlib
import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from taskchat.reference_server import engineio as eio
from taskchat.reference_server import socketio_protocol as sio
from taskchat.reference_server.engineio import EngineSession
from taskchat.reference_server.socketio_protocol import SocketIOConnection

VALID = [
    "40",
    '40{"token":"abc"}',
    "40/custom,",
    "41",
    '42["message",1,"2",{"3":[true]}]',
    '42456["message-with-ack",1]',
    '452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
    '452-789["m",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]',
    '431["ack"]',
    "4hello",
    "bAQIDBA==",
    "2probe",
    "3probe",
    "2",
    "3",
    "5",
    "6",
    "1",
    "0",
    b"\x01\x02\x03",
    b"",
]

text_alphabet = st.sampled_from(list('0123456789-/,[]{}":_abc\x1e\u0663 btrue'))
random_text = st.text(alphabet=text_alphabet, max_size=40) | st.text(max_size=20)


@st.composite
def mutated(draw: st.DrawFn) -> str | bytes:
    base = draw(st.sampled_from(VALID))
    if isinstance(base, bytes):
        return draw(st.binary(max_size=16)) if draw(st.booleans()) else base
    s = list(base)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "dup"]))
        i = draw(st.integers(0, len(s)))
        c = draw(text_alphabet)
        if op == "insert":
            s.insert(i, c)
        elif op == "delete" and s:
            del s[min(i, len(s) - 1)]
        elif op == "replace" and s:
            s[min(i, len(s) - 1)] = c
        elif op == "truncate":
            s = s[:i]
        elif op == "dup":
            s = s + s[i:]
    return "".join(s)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=5,
)
placeholder = st.fixed_dictionaries(
    {
        "_placeholder": st.sampled_from([True, True, 1, False]),
        "num": st.sampled_from([0, 0, 1, 2, -1, True, "0", 0.0]),
    }
)


@st.composite
def sio_frame(draw: st.DrawFn) -> str:
    """A Socket.IO packet built from its grammar, with its fields often wrong."""
    ptype = draw(st.sampled_from("01222222223555564679"))
    binary = ptype in "56"
    count = draw(st.sampled_from([None, 0, 1, 2]) if binary else st.sampled_from([None] * 8 + [1]))
    ns = draw(st.sampled_from(["", "", "", "", "/custom,", "/x,", "/custom"]))
    ack = draw(st.none() | st.integers(0, 1000))
    args = draw(st.lists(placeholder if binary else json_values, max_size=3))
    name = draw(st.sampled_from(["message", "x", "x", "x", "x", "connect", "", 0]))
    event = [name, *args]
    data = draw(st.sampled_from([None, event, event, event, event, event, args, {"token": "t"}]))
    return (
        "4"
        + ptype
        + (f"{count}-" if count is not None else "")
        + ns
        + (str(ack) if ack is not None else "")
        + (json.dumps(data) if data is not None else "")
    )


@st.composite
def valid_event(draw: st.DrawFn) -> list[str | bytes]:
    """A well-formed EVENT (maybe BINARY_EVENT with its attachments, maybe with an ack id),
    so that the deeper states (owed acks, reassembly half-done) are reached."""
    ns = draw(st.sampled_from(["", "/custom,"]))
    ack = draw(st.none() | st.integers(0, 50))
    args = draw(st.lists(json_values, max_size=3))
    n_bin = draw(st.integers(0, 2))
    head = f"45{n_bin}-" if n_bin else "42"
    placeholders: list[dict[str, object]] = [{"_placeholder": True, "num": i} for i in range(n_bin)]
    if placeholders and draw(st.integers(0, 3)) == 0:  # now and then a bad one
        placeholders[-1] = draw(placeholder)
    frame = head + ns + ("" if ack is None else str(ack)) + json.dumps(["x", *args, *placeholders])
    attachments = draw(st.lists(st.binary(max_size=6), min_size=n_bin, max_size=n_bin))
    cut = draw(st.integers(0, n_bin))  # sometimes stop half-way through the attachments
    return [frame, *attachments[: n_bin - cut if draw(st.booleans()) else n_bin]]


message = st.one_of(
    st.sampled_from(VALID), mutated(), random_text, st.binary(max_size=24), sio_frame(), sio_frame()
)
body = st.lists(
    st.one_of(st.sampled_from([v for v in VALID if isinstance(v, str)]), mutated()), max_size=4
).map(
    lambda parts: "\x1e".join(p if isinstance(p, str) else "b" for p in parts).encode(
        "utf-8", "surrogatepass"
    )
)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("ws"), message),
        st.tuples(st.just("ws"), sio_frame()),
        st.tuples(st.just("ws"), sio_frame()),
        st.tuples(st.just("ws"), st.binary(max_size=8)),
        st.tuples(st.just("ws*"), valid_event()),
        st.tuples(st.just("ws*"), valid_event()),
        st.tuples(st.just("ws*"), valid_event()),
        st.tuples(st.just("post"), body | st.binary(max_size=30)),
        st.tuples(st.just("probe"), message),
        st.tuples(st.just("attach"), st.none()),
        st.tuples(st.just("tick"), st.floats(0, 60)),
        st.tuples(st.just("poll"), st.none()),
        st.tuples(st.just("accept"), st.sampled_from(["/", "/custom", "/x"])),
        st.tuples(st.just("refuse"), st.sampled_from(["/", "/custom"])),
        st.tuples(st.just("ack"), st.integers(-1, 50)),
        st.tuples(st.just("emit"), st.sampled_from(["/", "/custom"])),
        st.tuples(st.just("disconnect"), st.sampled_from(["/", "/custom"])),
        st.tuples(st.just("close"), st.booleans()),
    ),
    max_size=40,
)


def snapshot(c: SocketIOConnection) -> tuple:
    e = c.engine
    return (
        e.state,
        e.transport,
        e.close_reason,
        [(p.data, p.binary) for p in e.queue],
        e.next_deadline(),
        e.poll_pending,
        e.probe_attached,
        e.probed,
        {ns: (st_.state, dict(st_.acks)) for ns, st_ in c.namespaces.items()},
        c.next_deadline(),
    )


def make(transport: str, now: float) -> SocketIOConnection:
    engine = EngineSession(
        transport, now, ping_interval=10, ping_timeout=5, max_payload=400, queue_limit=8
    )
    return SocketIOConnection(engine, now, namespaces=("/", "/custom"), connect_timeout=20)


def step(c: SocketIOConnection, op: str, arg: object, now: float) -> list:
    """One operation; returns the events it produced (each must be a known event type)."""
    e = c.engine
    events: list = []
    if op == "ws":
        for ev in e.receive_ws(arg, now):  # type: ignore[arg-type]
            events.append(ev)
            if isinstance(ev, eio.MessageReceived):
                events += c.receive(ev.data)
    elif op == "ws*":
        for frame in arg:  # type: ignore[attr-defined]
            events += step(c, "ws", frame, now)
    elif op == "post":
        status, evs = e.receive_post(arg, now)  # type: ignore[arg-type]
        assert status in (200, 400, 413)
        for ev in evs:
            events.append(ev)
            if isinstance(ev, eio.MessageReceived):
                events += c.receive(ev.data)
    elif op == "probe":
        result, evs = e.receive_probe(arg, now)  # type: ignore[arg-type]
        assert result in (eio.PROBE_REPLY_SENT, eio.PROBE_UPGRADED, eio.PROBE_ABORT)
        events += evs
    elif op == "attach":
        e.attach_probe()
    elif op == "tick":
        events += e.handle_timers(now)
        events += c.handle_timers(now)
    elif op == "poll":
        result, evs = e.poll_begin(now)
        events += evs
        if result == eio.POLL_OK:
            e.poll_take(now)
            e.poll_end()
    elif op == "accept":
        c.accept(arg, "SID")  # type: ignore[arg-type]
    elif op == "refuse":
        c.refuse(arg, {"message": "no"})  # type: ignore[arg-type]
    elif op == "ack":
        with contextlib.suppress(RuntimeError):  # not owed: refused by the layer
            c.send_ack("/", arg, ("x", b"\x00"))  # type: ignore[arg-type]
    elif op == "emit":
        if c.is_connected(arg):  # type: ignore[arg-type]
            e.send_many(sio.encode_event(arg, "ev", (1, b"\x02")))  # type: ignore[arg-type]
    elif op == "disconnect":
        c.disconnect(arg)  # type: ignore[arg-type]
    elif op == "close":
        events += e.close("server", now, flush=bool(arg))
    elif op == "take":
        e.take()
    for ev in events:
        assert isinstance(
            ev,
            (
                eio.MessageReceived,
                eio.SessionClosed,
                eio.Upgraded,
                sio.ConnectRequest,
                sio.EventReceived,
                sio.ClientDisconnected,
                sio.ConnectionClosed,
            ),
        ), ev
        if isinstance(ev, sio.EventReceived):
            assert isinstance(ev.event, str) and isinstance(ev.args, list)
            assert ev.ack_id is None or (isinstance(ev.ack_id, int) and ev.ack_id >= 0)
    return events


@settings(
    derandomize=True,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    transport=st.sampled_from([eio.POLLING, eio.WEBSOCKET]),
    connect_first=st.booleans(),
    operations=ops,
)
def test_fuzzed_session_never_raises_and_never_touches_another(
    transport: str, connect_first: bool, operations: list[tuple[str, object]]
) -> None:
    now = 100.0
    victim = make(transport, now)
    if connect_first:  # most of the interesting states are behind a CONNECT
        victim.receive("0")
        victim.accept("/", "V")
    bystander = make(eio.WEBSOCKET, now)
    bystander.receive("0")
    bystander.accept("/", "B")
    bystander.receive('27["x",1]')
    before = copy.deepcopy(snapshot(bystander))
    shared = [
        (p.data, p.binary)
        for p in (eio.PING_PACKET, eio.NOOP_PACKET, eio.CLOSE_PACKET, eio.PROBE_REPLY)
    ]
    for op, arg in operations:
        if op == "tick":
            now += float(arg)  # type: ignore[arg-type]
        was_closed = victim.engine.closed
        events = step(victim, op, arg, now)
        if was_closed:
            assert events == [], (op, arg, events)
            assert not victim.engine.queue
        if victim.engine.closed:
            assert not victim.engine.queue
        assert len(victim.engine.queue) <= victim.engine.queue_limit
        assert snapshot(bystander) == before
    assert [
        (p.data, p.binary)
        for p in (eio.PING_PACKET, eio.NOOP_PACKET, eio.CLOSE_PACKET, eio.PROBE_REPLY)
    ] == shared


mostly_valid_ops = st.lists(
    st.one_of(
        *[st.tuples(st.just("ws*"), valid_event())] * 6,
        st.tuples(st.just("ws"), sio_frame()),
        st.tuples(st.just("ws"), mutated()),
        st.tuples(st.just("ack"), st.integers(0, 50)),
        st.tuples(st.just("emit"), st.sampled_from(["/", "/custom"])),
        st.tuples(st.just("tick"), st.floats(0, 4)),
        st.tuples(st.just("take"), st.none()),
    ),
    max_size=30,
)


@settings(
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(operations=mostly_valid_ops)
def test_fuzzed_connected_socket_with_mostly_valid_traffic(
    operations: list[tuple[str, object]],
) -> None:
    """Deep states (owed acks, half-reassembled binary packets) meet a bad frame."""
    now = 100.0
    victim = make(eio.WEBSOCKET, now)
    victim.receive("0")
    victim.accept("/", "V")
    victim.receive("0/custom,")
    victim.accept("/custom", "W")
    bystander = make(eio.WEBSOCKET, now)
    bystander.receive("0")
    bystander.accept("/", "B")
    before = copy.deepcopy(snapshot(bystander))
    for op, arg in operations:
        if op == "tick":
            now += float(arg)  # type: ignore[arg-type]
        was_closed = victim.engine.closed
        events = step(victim, op, arg, now)
        if was_closed:
            assert events == []
        if victim.engine.closed:
            assert not victim.engine.queue
        assert snapshot(bystander) == before
