"""The Hypothesis state machine: every action of the protocol, as a rule.

Three users (``ana`` owner, ``ben`` a member with two tabs, ``vi`` a viewer of one task and
a stranger to the other), two tasks and one that does not exist, and the backend (through the control
adapter) acting on them. Each rule performs one action on the server, and ``Session.settle``
checks the ack and every socket's events against the model. Arguments are indices and short
names, never server-generated ids, so that a seed replays the same session and Hypothesis can
shrink a failing one to the few steps that still fail.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule
from taskchat.conformance.context import Ctx
from taskchat.conformance.stateful.model import ChatModel, Msg, Outcome
from taskchat.conformance.stateful.session import Divergence, Session
from taskchat.schemas import Event

SOCKETS = ("ana#1", "ben#1", "ben#2", "vi#1")
# a socket argument is an index into the sockets that can act (connected, or for `connect`
# disconnected), so that few steps are wasted on actions that cannot happen
SOCK = st.integers(min_value=0, max_value=len(SOCKETS) - 1)
USERS = ("ben", "vi", "ana")
TASKS = ("T0", "T1", "T0", "T1", "T?")  # the missing task now and then
REAL_TASKS = ("T0", "T1", "T0")
ROLES = ("viewer", "member", "viewer", "member", "viewer", "member", "admin", "owner")
TEXTS = ("hello", "  padded text  ", "hello", "ünïcode ✓", "   ")  # blank: INVALID_PAYLOAD
CMIDS = (None, "c1", "c2")
# a message of the session by index (cyclically); the last value names no message at all
MESSAGE = st.integers(min_value=0, max_value=7)
_NO_MESSAGE = 7


def _live(rule_body: Callable[..., None]) -> Callable[..., None]:
    """A rule that does nothing once the budget is spent (the running session stops there), and
    that records the call, for the phase's shrinker to replay."""

    @functools.wraps(rule_body)
    def run(self: SessionMachine, **kwargs: Any) -> None:
        if self.live and not self.phase.over_budget():
            self.pending.append((rule_body, kwargs))
            self._flush()

    return run


class Phase(Protocol):
    """What the machine needs from the run that drives it."""

    ctx: Ctx

    def over_budget(self) -> bool: ...

    def stop_if_over_budget(self) -> None: ...

    def started(self, machine: SessionMachine) -> None: ...

    def session(self) -> Session: ...

    def novel(self, calls: list[tuple[str, dict[str, Any]]]) -> bool: ...

    def prefix(self) -> int: ...


def machine_for(phase: Phase) -> type[SessionMachine]:
    """A machine class bound to one run (Hypothesis builds a fresh instance per session)."""

    class BoundMachine(SessionMachine):
        def __init__(self) -> None:
            super().__init__(phase)

    BoundMachine.__name__ = BoundMachine.__qualname__ = "ChatSession"
    return BoundMachine


class SessionMachine(RuleBasedStateMachine):
    def __init__(self, phase: Phase) -> None:
        super().__init__()
        self.phase = phase
        self.steps: list[str] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        # the calls that changed nothing (refused, no-ops, backend events, reads): the
        # shrinker first tries without all of them at once
        self.inert: set[int] = set()
        self.failed = False
        self.error: Divergence | None = None
        phase.stop_if_over_budget()  # no new session once the budget is spent
        self.live = True
        phase.started(self)
        # The first calls wait until there are enough of them to tell whether the session is
        # new (Phase.novel); only then does it take its tasks and sockets and play them.
        self.pending: list[tuple[Callable[..., None], dict[str, Any]]] = []
        self._session: Session | None = None

    @property
    def s(self) -> Session:
        """The session being played (rule bodies run only once it is taken)."""
        assert self._session is not None
        return self._session

    @property
    def m(self) -> ChatModel:
        return self.s.model

    def _flush(self, force: bool = False) -> None:
        if self._session is None:
            calls = [(body.__name__, kwargs) for body, kwargs in self.pending]
            if len(calls) < self.phase.prefix() and not force:
                return
            if not self.phase.novel(calls):
                self.live = False  # the same beginning as an earlier session: not played
                self.pending.clear()
                return
            self._session = self.phase.session()
        while self.pending:
            body, kwargs = self.pending.pop(0)
            self.calls.append((body.__name__, kwargs))
            body(self, **kwargs)

    # -- helpers ----------------------------------------------------------------------------

    def _step(self, text: str, run: Callable[[], None]) -> None:
        try:
            self.s.ensure_ready()
            self.steps.append(text)
            run()
            # a step whose acks and events all matched the model is an observation (D27)
            self.phase.ctx.observe()
        except Divergence as exc:
            self.failed, self.error = True, exc
            raise

    def _ack_step(self, label: str, event: str, payload: Any, outcomes: Any,
                  shown: str | None = None) -> None:
        def run() -> None:
            ack, before = self.s.call(label, event, payload)
            self.steps.append(f"    ack {self.s.show(ack)}")
            outcome = self.s.settle(outcomes, ack, sender=label, before=before)
            if outcome.ok is False or outcome.apply is None:
                self.inert.add(len(self.calls) - 1)

        self._step(f"{label}: {event} {shown or self.s.show(payload)}", run)

    def actions(self) -> int:
        return sum(1 for s in self.steps if not s.startswith("    "))

    def _msg(self, i: int) -> Msg | None:
        if i == _NO_MESSAGE or not self.m.messages:
            return None
        return self.m.messages[i % len(self.m.messages)]

    def _msg_id(self, i: int) -> str:
        msg = self._msg(i)
        return msg.id if msg else f"no-such-message-{i}"

    def _connected(self, label: str) -> bool:
        return self.m.sockets[label].connected

    def _pick(self, i: int, connected: bool = True) -> str | None:
        """The i-th socket (cyclically) among those connected (or disconnected)."""
        socks = [x for x in SOCKETS if self._connected(x) == connected]
        return socks[i % len(socks)] if socks else None

    # -- start of a session -----------------------------------------------------------------

    @initialize()
    @_live
    def start(self) -> None:
        """Every session starts with every socket in the rooms of its user's tasks, so that
        interactions between users come early; the shrinker leaves these joins out of a
        reproduction that does not need them."""

        def run() -> None:
            for task in REAL_TASKS[:2]:
                tid = self.s.tid(task)
                for label in SOCKETS:
                    if self.m.sockets[label].user not in self.m.tasks[tid]:
                        continue
                    ack, before = self.s.call(label, Event.JOIN_TASK, tid)
                    self.steps.append(f"    {label}: join_task {task} -> ack {self.s.show(ack)}")
                    self.s.settle(self.m.predict_join(label, tid), ack, sender=label,
                                  before=before)

        self._step("every socket joins its user's tasks", run)

    # -- socket rules -----------------------------------------------------------------------

    @rule(label=st.sampled_from(SOCKETS), abrupt=st.booleans())
    @_live
    def reconnect(self, label: str, abrupt: bool) -> None:
        """A connected socket disconnects (with a goodbye, or dropped as a network failure
        would); a disconnected one connects again (and is in no room)."""
        if self._connected(label):
            def run() -> None:
                outcomes = self.m.predict_disconnect(label)
                self.s.close(label, abrupt)
                self.s.settle(outcomes)

            self._step(f"{label}: {'drop the connection' if abrupt else 'disconnect'}", run)
            return

        def again() -> None:
            self.s.open(label)
            self.s.settle(self.m.predict_connect(label))

        self._step(f"{label}: connect", again)

    @rule(sock=SOCK, task=st.sampled_from(TASKS))
    @_live
    def join(self, sock: int, task: str) -> None:
        label = self._pick(sock)
        if label is None:
            return
        self.s.how_out.pop((label, self.s.tid(task)), None)
        self._ack_step(label, Event.JOIN_TASK, self.s.tid(task),
                       self.m.predict_join(label, self.s.tid(task)))

    @rule(sock=SOCK, task=st.sampled_from(TASKS))
    @_live
    def leave(self, sock: int, task: str) -> None:
        label = self._pick(sock)
        if label is None:
            return
        tid = self.s.tid(task)
        if tid in self.m.sockets[label].rooms:
            self.s.how_out[(label, tid)] = "left"
        self._ack_step(label, Event.LEAVE_TASK, tid, self.m.predict_leave(label, tid))

    @rule(sock=SOCK, task=st.sampled_from(TASKS),
          text=st.sampled_from(TEXTS), cmid=st.sampled_from(CMIDS),
          reply=st.one_of(st.none(), MESSAGE))
    @_live
    def send(self, sock: int, task: str, text: str, cmid: str | None,
             reply: int | None) -> None:
        label = self._pick(sock)
        if label is None:
            return
        tid = self.s.tid(task)
        payload: dict[str, Any] = {"taskId": tid, "message": text}
        if cmid is not None:
            payload["clientMessageId"] = cmid
        reply_to = None if reply is None else self._msg_id(reply)
        if reply_to is not None:
            payload["replyTo"] = reply_to
        self._ack_step(label, Event.SEND_MESSAGE, payload,
                       self.m.predict_send(label, tid, text, cmid, reply_to))

    @rule(sock=SOCK, task=st.sampled_from(TASKS), i=MESSAGE, text=st.sampled_from(TEXTS),
          kind=st.sampled_from(("edit", "delete", "retry")))
    @_live
    def change_message(self, sock: int, task: str, i: int, text: str, kind: str) -> None:
        """Edit or delete a message of the session, or send one again (one rule: sending and
        joining matter more to what happens between users, so they come more often)."""
        if kind == "edit":
            self._edit(sock, task, i, text)
        elif kind == "delete":
            self._delete(sock, task, i)
        else:
            self._retry(i, bool(sock % 2))

    @rule(task=st.sampled_from(REAL_TASKS), n=st.integers(0, 3), notify=st.booleans())
    @_live
    def backend_event(self, task: str, n: int, notify: bool) -> None:
        """A task update or a notification from the backend."""
        if notify:
            self._notify(task, bool(n % 2))
        else:
            self._update_task(task, n)

    def _retry(self, i: int, tab: bool) -> None:
        """Send a message again with its clientMessageId, from any socket of its author (a
        retry after a dropped connection)."""
        with_cmid = [m for m in self.m.messages if m.cmid]
        if not with_cmid:
            return
        msg = with_cmid[i % len(with_cmid)]
        mine = [x for x in SOCKETS if self.m.sockets[x].user == msg.author and self._connected(x)]
        if not mine:
            return
        label = mine[-1] if tab else mine[0]
        payload: dict[str, Any] = {"taskId": msg.task, "message": msg.text,
                                   "clientMessageId": msg.cmid}
        if msg.reply_to is not None:
            payload["replyTo"] = msg.reply_to
        self._ack_step(label, Event.SEND_MESSAGE, payload,
                       self.m.predict_send(label, msg.task, msg.text, msg.cmid, msg.reply_to),
                       shown=f"(a retry) {self.s.show(payload)}")

    def _edit(self, sock: int, task: str, i: int, text: str) -> None:
        label = self._pick(sock)
        if label is None:
            return
        tid = self.s.tid(task)
        payload = {"taskId": tid, "messageId": self._msg_id(i), "newMessage": text}
        self._ack_step(label, Event.EDIT_MESSAGE, payload,
                       self.m.predict_edit(label, tid, self._msg(i), text))

    def _delete(self, sock: int, task: str, i: int) -> None:
        label = self._pick(sock)
        if label is None:
            return
        tid = self.s.tid(task)
        payload = {"taskId": tid, "messageId": self._msg_id(i)}
        self._ack_step(label, Event.DELETE_MESSAGE, payload,
                       self.m.predict_delete(label, tid, self._msg(i)))

    @rule(sock=SOCK, task=st.sampled_from(TASKS), start=st.booleans())
    @_live
    def typing(self, sock: int, task: str, start: bool) -> None:
        label = self._pick(sock)
        if label is None:
            return
        tid = self.s.tid(task)
        if start:
            timeout = self.phase.ctx.target.timeouts.typing_timeout
            slack = self.phase.ctx.target.timeouts.event
            outcomes = self.m.predict_typing_start(label, tid, time.monotonic(), timeout, slack)
            self._ack_step(label, Event.TYPING_START, {"taskId": tid}, outcomes)
        else:
            self._ack_step(label, Event.TYPING_STOP, {"taskId": tid},
                           self.m.predict_typing_stop(label, tid))

    # -- backend rules (the control adapter) ------------------------------------------------

    @rule(task=st.sampled_from(REAL_TASKS), user=st.sampled_from(USERS),
          role=st.sampled_from(ROLES))
    @_live
    def set_role(self, task: str, user: str, role: str) -> None:
        tid = self.s.tid(task)

        def run() -> None:
            outcomes = self.m.predict_set_member(tid, user, role)
            self.phase.ctx.control.set_member(tid, self.m.sub(user), role,
                                              self.m.users[user].name)
            self.s.settle(outcomes)

        self._step(f"backend: set {user}'s role in {task} to {role}", run)

    @rule(task=st.sampled_from(REAL_TASKS), user=st.sampled_from(USERS))
    @_live
    def remove(self, task: str, user: str) -> None:
        tid = self.s.tid(task)
        if user not in self.m.tasks[tid]:
            return

        def run() -> None:
            outcomes = self.m.predict_remove_member(tid, user)
            for label, sock in self.m.sockets.items():
                if sock.user == user and tid in sock.rooms:
                    self.s.how_out[(label, tid)] = "removed"
            self.phase.ctx.control.remove_member(tid, self.m.sub(user))
            self.s.settle(outcomes)

        self._step(f"backend: remove {user} from {task}", run)

    def _update_task(self, task: str, n: int) -> None:
        tid = self.s.tid(task)
        changes: dict[str, Any] = {"status": ("open", "doing", "done", "open")[n]}
        if n % 2:
            changes["title"] = f"title {n}"

        def run() -> None:
            outcomes = self.m.predict_update_task(tid, changes)
            self.phase.ctx.control.update_task(tid, changes)
            self.s.settle(outcomes)

        self._step(f"backend: update {task} with {changes}", run)
        self.inert.add(len(self.calls) - 1)

    def _notify(self, task: str, with_data: bool) -> None:
        tid = self.s.tid(task)
        data = {"n": len(self.steps)} if with_data else None
        text = f"notice {len(self.steps)}"

        def run() -> None:
            outcomes = self.m.predict_notify(tid, "info", text, data)
            self.phase.ctx.control.post_notification(tid, "info", text, data)
            self.s.settle(outcomes)

        self._step(f"backend: notify {task}: {text!r} data={data}", run)
        self.inert.add(len(self.calls) - 1)

    @precondition(lambda self: self.phase.ctx.target.http_api)
    @rule(user=st.sampled_from(USERS), task=st.sampled_from(REAL_TASKS))
    @_live
    def read_history(self, user: str, task: str) -> None:
        self._step(f"{user}: GET history of {task}", lambda: self.s.history(user, task))
        self.inert.add(len(self.calls) - 1)

    # -- end of a session -------------------------------------------------------------------

    def teardown(self) -> None:
        try:
            if self.live and self.pending and not self.failed:
                self._flush(force=True)  # a session shorter than the novelty prefix
            session = self._session
            if session is not None and not self.failed:
                quiet = [Outcome("nothing more arrives", "STATE-1", None)]
                self._step("(end of the session: nothing more arrives)",
                           lambda: session.settle(quiet, grace=session.opts.settle))
        finally:
            if self._session is not None:
                self._session.close_all()

