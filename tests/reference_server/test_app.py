"""The app's outbox: effects go out only after their commit, in the order the rules decided;
a failed commit answers INTERNAL; the typing loop expires typing on time."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from taskchat.reference_server.app import IN_FLIGHT_LIMIT, ChatApp
from taskchat.reference_server.auth import Verifier
from taskchat.reference_server.chat import ChatRules, Identity, Member, PutMessage, Task
from taskchat.reference_server.config import ServerConfig
from taskchat.reference_server.socketio_server import Ack, SocketRef
from taskchat.reference_server.store import Store
from taskchat.schemas import ErrorCode, Event

SECRET = "app-test-secret-0123456789abcdef"


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[tuple[str, ...], str, Any]] = []

    def emit(self, sids: Any, event: str, *args: object) -> None:
        self.sent.append((tuple(sids), event, args[0]))


def make(typing_timeout: float = 5.0, rate_limit: int = 20) -> tuple[ChatApp, Recorder, list[tuple[int, tuple[Any, ...]]]]:
    store = Store(":memory:")
    members = {u: Member(u, u, "member") for u in ("ann", "bob")}
    rules = ChatRules(store, tasks=[Task("t1", "One", members=members)], typing_timeout=typing_timeout,
                      rate_limit=rate_limit)
    rec = Recorder()
    app = ChatApp(ServerConfig(jwt_secret=SECRET), store, rules, Verifier(secret=SECRET), rec)
    acks: list[tuple[int, tuple[Any, ...]]] = []
    for sid, uid in (("a", "ann"), ("b", "bob")):
        rules.connect(sid, Identity(uid, uid.title(), uid.title(), ""))
        app.enqueue(rules.handle_event(sid, Event.JOIN_TASK, ["t1"], 0.0))
    rec.sent.clear()
    return app, rec, acks


def test_nothing_overtakes_a_pending_commit() -> None:
    app, rec, acks = make()
    send = app.rules.handle_event("a", Event.SEND_MESSAGE, [{"taskId": "t1", "message": "hi"}], 1.0)
    first = app.enqueue(send, Ack(1, lambda i, a: acks.append((i, a))))
    typing = app.rules.handle_event("b", Event.TYPING_START, [{"taskId": "t1"}], 1.0)
    second = app.enqueue(typing, Ack(2, lambda i, a: acks.append((i, a))))
    assert rec.sent == [] and acks == []  # nothing before the commit, not even the typing
    assert not first.done and not second.done
    app.store.commit_pending()
    app.drain()
    assert [e for _to, e, _p in rec.sent] == [Event.NEW_MESSAGE, Event.USER_TYPING]
    assert [i for i, _a in acks] == [1, 2]  # the new_message before its ack (ORDER-2)
    assert app.store.count_messages() == 1


def test_a_failed_commit_answers_internal_and_emits_nothing() -> None:
    app, rec, acks = make()
    app.store.submit([PutMessage({"id": "x", "task_id": "t1", "user_id": "ann",
                                  "client_message_id": "dup", "message": "a"})])
    app.store.commit_pending()
    send = app.rules.handle_event(
        "a", Event.SEND_MESSAGE, [{"taskId": "t1", "message": "b", "clientMessageId": "dup2"}], 1.0
    )
    # make the write collide with the row above, as a disk or constraint failure would
    put = next(e for e in send if isinstance(e, PutMessage))
    put.message["client_message_id"] = "dup"
    app.store._overlay_cid.clear()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(app.store.run_committer, app.drain)
            with trio.fail_after(10):
                await app.execute(send, Ack(7, lambda i, a: acks.append((i, a))))
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert rec.sent == []
    ((ack_id, (payload,)),) = acks
    assert ack_id == 7 and payload["ok"] is False
    assert payload["error"]["code"] == ErrorCode.INTERNAL


def test_the_typing_loop_expires_typing_by_itself() -> None:
    app, rec, _acks = make(typing_timeout=5.0)
    clock = trio.testing.MockClock(autojump_threshold=0)  # time passes only when all wait
    seen: list[float] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(app.typing_loop)
            sock = SocketRef("b", "/", "websocket", "127.0.0.1:1")
            start = trio.current_time()
            app.on_event(sock, Event.TYPING_START, [{"taskId": "t1"}], None)
            while not any(e == Event.USER_STOPPED_TYPING for _t, e, _p in rec.sent):
                await trio.sleep(0.1)
            seen.append(trio.current_time() - start)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=clock)
    assert [(to, e) for to, e, _p in rec.sent] == [
        (("a",), Event.USER_TYPING), (("a", "b"), Event.USER_STOPPED_TYPING),
    ]
    assert 5.0 <= seen[0] < 5.2  # on time, by trio's (mock) clock: no real waiting


def test_a_crash_in_the_rules_fails_only_that_request() -> None:
    app, rec, acks = make()

    def boom(*_a: object) -> None:
        raise ValueError("a bug")

    app.rules._handlers[Event.TYPING_STOP] = boom  # type: ignore[assignment]
    sock = SocketRef("a", "/", "websocket", "127.0.0.1:1")

    async def main() -> None:
        app.on_event(sock, Event.TYPING_STOP, [{"taskId": "t1"}], Ack(3, lambda i, a: acks.append((i, a))))
        app.on_event(sock, Event.TYPING_START, [{"taskId": "t1"}], Ack(4, lambda i, a: acks.append((i, a))))

    trio.run(main)
    assert acks[0][1][0]["error"]["code"] == ErrorCode.INTERNAL
    assert rec.sent[0][1] == Event.ERROR and rec.sent[0][2]["code"] == ErrorCode.INTERNAL
    assert acks[1] == (4, ({"ok": True},))


def test_a_socket_pipelines_its_requests_up_to_a_bound() -> None:
    """A socket's next request is handled while its last one's commit runs, in order, but one
    client cannot queue without limit: past IN_FLIGHT_LIMIT it is backlogged (its connection
    stops reading) until its commits drain."""
    app, rec, acks = make(rate_limit=0)
    sock = SocketRef("a", "/", "websocket", "127.0.0.1:1")
    other = SocketRef("b", "/", "websocket", "127.0.0.1:2")
    waited: list[str] = []

    def send(i: int) -> None:
        app.on_event(sock, Event.SEND_MESSAGE, [{"taskId": "t1", "message": f"m{i}"}],
                     Ack(i, lambda i, a: acks.append((i, a))))

    async def main() -> None:
        for i in range(IN_FLIGHT_LIMIT - 1):
            send(i)
        assert not app.backlogged(sock) and acks == []  # nothing committed yet
        send(IN_FLIGHT_LIMIT - 1)
        assert app.backlogged(sock) and not app.backlogged(other)
        async with trio.open_nursery() as nursery:

            async def reader() -> None:
                await app.wait_capacity(sock)
                waited.append("read again")

            nursery.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            assert waited == []
            app.store.commit_pending()
            app.drain()
        assert waited == ["read again"] and not app.backlogged(sock)

    trio.run(main)
    assert [i for i, _a in acks] == list(range(IN_FLIGHT_LIMIT))  # in order
    assert all(a[0]["ok"] for _i, a in acks)
    texts = [p["message"]["message"] for _to, e, p in rec.sent if e == Event.NEW_MESSAGE]
    assert texts == [f"m{i}" for i in range(IN_FLIGHT_LIMIT)]
