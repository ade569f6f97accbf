"""One random session against the server: its users, tasks and sockets, and the comparison of
what each socket received with what the model predicted.

Waiting is event-driven: after an action, the session waits until every predicted event has
arrived (at most the event timeout), then watches a short grace period for extra ones. Events
that arrive later still are caught at the next step or when the session settles at its end: an
event nothing entitles a socket to is wrong whenever it comes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from taskchat.conformance.context import Ctx, short
from taskchat.conformance.observer import ack_violations, event_violations
from taskchat.conformance.stateful.model import (
    ChatModel,
    Expect,
    Group,
    Outcome,
    UserInfo,
    get,
    same,
)
from taskchat.schemas import Event

from taskchat.client.connection import ClientError, Connection, Received
from taskchat.client.control import history

# the requirement an unexpected event breaks, by event, when the socket is in the room
UNEXPECTED: dict[str, str] = {
    Event.USER_JOINED: "PRES-1",
    Event.USER_LEFT: "PRES-2",
    Event.USER_TYPING: "TYPE-1",
    Event.USER_STOPPED_TYPING: "TYPE-2",
    Event.NEW_MESSAGE: "MSG-1",
    Event.MESSAGE_EDITED: "MSG-6",
    Event.MESSAGE_DELETED: "MSG-7",
    Event.TASK_NOTIFICATION: "BACK-1",
    Event.TASK_UPDATED: "BACK-2",
    Event.MEMBER_CHANGED: "BACK-3",
    Event.ERROR: "ERR-1",
}


class Divergence(AssertionError):
    """The server did something the model does not allow."""

    def __init__(self, req: str, expectation: str, observed: str) -> None:
        super().__init__(f"{req}: expected {expectation}; observed {observed}")
        self.req, self.expectation, self.observed = req, expectation, observed


@dataclass
class _Match:
    unexpected: tuple[str, str, Any, str] | None = None  # socket, event, payload, why
    missing: list[Expect] = field(default_factory=list)
    complaints: list[tuple[Expect, str]] = field(default_factory=list)
    groups_hit: list[Group] = field(default_factory=list)


class Session:
    """The sockets and backend of one example, driven step by step and checked by the model."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.opts = ctx.target.stateful
        self.cond = threading.Condition()
        self.conns: dict[str, Connection] = {}
        self.old: list[tuple[str, Connection]] = []  # closed connections, for the frames
        self.seen: dict[str, int] = {}  # events of each connection already accounted for
        self.how_out: dict[tuple[str, str], str] = {}  # (socket, task) -> "left"/"removed"
        users = [
            UserInfo("ana", ctx.uid("ana"), "Ana Owner", "https://example.com/ana.png"),
            UserInfo("ben", ctx.uid("ben"), "Ben Member"),
            UserInfo("vi", ctx.uid("vi"), "Vi"),  # a name without a last name (§10)
        ]
        self.tokens: dict[str, str] = {}
        for u in users:
            claims: dict[str, Any] = {"name": u.name}
            if u.avatar_url:
                claims["avatar_url"] = u.avatar_url
            self.tokens[u.key] = ctx.target.mint(u.sub, **claims)
        # two tasks with different members, and the id of one that does not exist
        members = {
            "T0": {"ana": "owner", "ben": "member", "vi": "viewer"},
            "T1": {"ana": "admin", "ben": "member"},
        }
        self.task_ids = {"T0": ctx.uid("t0"), "T1": ctx.uid("t1"), "T?": ctx.uid("no-such-task")}
        self.names = {v: k for k, v in self.task_ids.items()}
        self.model = ChatModel(users, {self.task_ids[t]: m for t, m in members.items()},
                               {"ana#1": "ana", "ben#1": "ben", "ben#2": "ben", "vi#1": "vi"})
        self.members = members
        for sock in self.model.sockets.values():
            sock.connected = True  # once the session is ready
        self.ready = False

    def ensure_ready(self) -> None:
        """The tasks, members and sockets on the server, made before the session's first action
        (a session whose every step is a no-op never touches the server)."""
        if self.ready:
            return
        self.ready = True
        for t, m in self.members.items():
            self.ctx.control.create_task(f"stateful {t}", self.task_ids[t])
            for user, role in m.items():
                self.ctx.control.set_member(self.task_ids[t], self.model.sub(user), role,
                                            self.model.users[user].name)
        for label in self.model.sockets:
            self.open(label)

    # -- naming -----------------------------------------------------------------------------

    def tid(self, task: str) -> str:
        return self.task_ids[task]

    def show(self, value: Any, limit: int = 1000) -> str:
        """A value with the session's generated ids replaced by their short names."""
        text = short(value, limit)
        for name, real in self.task_ids.items():
            text = text.replace(real, name)
        for u in self.model.users.values():
            text = text.replace(u.sub, u.key)
        return text

    # -- sockets ----------------------------------------------------------------------------

    def _on_event(self, label: str) -> Callable[[str, list[Any], float], None]:
        def observe(event: str, args: list[Any], _t: float) -> None:
            for violation in event_violations(event, args):
                self.ctx.finding("DATA-1", f"the {event} event {label} received validates "
                                 "against its schema", f"{violation} in {short(args)}")
            with self.cond:
                self.cond.notify_all()
        return observe

    def open(self, label: str) -> None:
        user = self.model.sockets[label].user
        conn = Connection(self.ctx.target.url, {"token": self.tokens[user]},
                          timeout=self.ctx.target.timeouts.connect, record=True,
                          on_event=self._on_event(label))
        try:
            conn.connect()
        except ClientError as exc:
            raise Divergence("AUTH-1", f"{label} ({user}, a valid token) connects",
                             str(exc)) from None
        self.conns[label] = conn
        self.seen[label] = 0

    def close(self, label: str, abrupt: bool) -> None:
        conn = self.conns.pop(label)
        if abrupt:
            conn.drop()
        else:
            conn.close()
        self.old.append((label, conn))

    def close_all(self) -> None:
        for label in list(self.conns):
            self.close(label, abrupt=False)

    def frames(self) -> list[dict[str, Any]]:
        out = []
        for label, conn in [*self.old, *self.conns.items()]:
            for f in list(conn.transcript):
                data = f.data if isinstance(f.data, str) else f"<{len(f.data)} bytes>"
                out.append({"socket": label, "direction": f.direction,
                            "t": round(f.t - self.ctx.t0, 4), "data": self.show(data)})
        out.sort(key=lambda f: f["t"])
        return out

    # -- one step ---------------------------------------------------------------------------

    def call(self, label: str, event: str, payload: Any) -> tuple[Any, list[Received]]:
        """The ack, and what the socket had received when it came (ORDER-2, ERR-2)."""
        conn = self.conns[label]
        try:
            args = conn.call(event, payload, timeout=self.ctx.target.timeouts.ack)
        except ClientError as exc:
            raise Divergence("TRANS-10", f"an ack for {label}'s {event}",
                             f"{exc} (connection: {conn.close_reason or 'open'})") from None
        before = list(conn.received)
        for violation in ack_violations(event, args):
            self.ctx.finding("DATA-1", f"the {event} ack validates against its schema",
                             f"{violation} in {short(args)}")
        return (args[0] if len(args) == 1 else args), before

    def settle(self, outcomes: list[Outcome], ack: Any = None, *, sender: str | None = None,
               before: list[Received] | None = None, grace: float | None = None) -> Outcome:
        """Pick the outcome the ack shows, wait for its events, and apply it to the model."""
        outcome = next((o for o in outcomes if o.accepts(ack)), None)
        primary = outcomes[0]
        if outcome is None:
            allowed = " or ".join(o.label + (f" ({o.code})" if o.code else "") for o in outcomes)
            raise Divergence(primary.req, f"{allowed}", f"ack {self.show(ack)}")
        complaints = [(outcome.req, f"{p} is {get(ack, p)!r}, expected {v!r}")
                      for p, v in outcome.ack if not same(v, get(ack, p))]
        if outcome.ack_check is not None and isinstance(ack, dict):
            complaints += outcome.ack_check(ack)
        if complaints:
            req = complaints[0][0]
            raise Divergence(req, f"the ack of {outcome.label}", self.show(
                f"{'; '.join(c for _, c in complaints)} in ack {ack}"))
        now = time.monotonic()
        expiry, overdue = self.model.expiries(now)
        groups = outcome.groups + expiry
        if grace is None:
            # Where the contract fixes every event, an extra one is wrong whenever it comes: a
            # late one is caught at a later step or when the session settles, so the step need
            # not sit out a quiet period. Where it leaves a choice, the step must wait to learn
            # which one the server made before the model goes on.
            grace = self.opts.grace if groups else 0.0
        match = self._wait(outcome.events, groups, grace)
        if match.unexpected is not None:
            self._unexpected(match.unexpected)
        if match.complaints:
            exp, text = match.complaints[0]
            raise Divergence(exp.req, f"{exp.socket} receives {exp.describe()} as the contract "
                             "says", f"{text} in {self.show(self._received(exp.socket))}")
        if match.missing:
            exp = match.missing[0]
            raise Divergence(exp.req, f"{exp.socket} receives {self.show(exp.describe())}",
                             f"nothing like it; {exp.socket} received "
                             f"{self.show(self._names(exp.socket))}")
        ended = {id(g) for g in match.groups_hit}
        for task, user in overdue:
            if not any(id(g) in ended and g.label == "typing expired"
                       and g.expects and g.expects[0].task == task
                       and g.expects[0].key[0][1] == self.model.sub(user) for g in expiry):
                raise Divergence("TYPE-4", f"user_stopped_typing for {user} in "
                                 f"{self.names.get(task, task)} within the typing timeout "
                                 f"({self.ctx.target.timeouts.typing_timeout:g}s, with slack)",
                                 "none came")
        if sender is not None and before is not None:
            self._order_before_ack(outcome, sender, before)
        for g in match.groups_hit:
            g.apply()
        if outcome.apply is not None:
            outcome.apply(ack)
        self._consume()
        return outcome

    def _order_before_ack(self, outcome: Outcome, sender: str, before: list[Received]) -> None:
        seen = before[self.seen.get(sender, 0):]
        for exp in outcome.events:
            if exp.socket != sender or exp.event not in (Event.NEW_MESSAGE, Event.ERROR):
                continue
            if not any(exp.matches(r.event, r.args[0] if r.args else None) for r in seen):
                req = "ORDER-2" if exp.event == Event.NEW_MESSAGE else "ERR-2"
                raise Divergence(req, f"{sender}'s {exp.event} arrives before its ack",
                                 f"it came after the ack; before it: {self._names(sender)}")

    def _received(self, label: str) -> list[tuple[str, Any]]:
        conn = self.conns.get(label)
        if conn is None:
            return []
        return [(r.event, r.args[0] if r.args else None)
                for r in list(conn.received)[self.seen.get(label, 0):]]

    def _names(self, label: str) -> list[str]:
        return [e for e, _ in self._received(label)]

    def _consume(self) -> None:
        for label, conn in self.conns.items():
            self.seen[label] = len(conn.received)

    def _wait(self, required: list[Expect], groups: list[Group], grace: float) -> _Match:
        limit = time.monotonic() + self.ctx.target.timeouts.event
        quiet = grace
        quiet_until: float | None = None
        with self.cond:
            while True:
                match = self._match(required, groups)
                now = time.monotonic()
                if match.unexpected or match.complaints:
                    return match
                if match.missing:
                    quiet_until = None
                    if now >= limit:
                        return match
                    self.cond.wait(min(limit - now, 0.5))
                    continue
                if quiet_until is None:
                    quiet_until = now + quiet
                if now >= quiet_until:
                    return match
                self.cond.wait(quiet_until - now)

    def _match(self, required: list[Expect], groups: list[Group]) -> _Match:
        out = _Match()
        hit: set[int] = set()
        consumed: set[int] = set()
        for label in self.conns:
            mine = [(i, e) for i, e in enumerate(required) if e.socket == label]
            optional = [(gi, j, e) for gi, g in enumerate(groups)
                        for j, e in enumerate(g.expects) if e.socket == label]
            used_opt: set[tuple[int, int]] = set()
            for event, payload in self._received(label):
                lane = "error" if event == Event.ERROR else get(payload, "taskId")
                nxt = next(((i, e) for i, e in mine if i not in consumed
                            and (("error" if e.event == Event.ERROR else e.task) == lane)), None)
                if nxt is not None and nxt[1].matches(event, payload):
                    consumed.add(nxt[0])
                    bad = nxt[1].complaints(payload)
                    if bad:
                        out.complaints.append((nxt[1], "; ".join(bad)))
                    continue
                opt = next(((gi, j) for gi, j, e in optional
                            if (gi, j) not in used_opt and e.matches(event, payload)), None)
                if opt is not None:
                    used_opt.add(opt)
                    hit.add(opt[0])
                    continue
                later = next((e for i, e in mine if i not in consumed
                              and e.matches(event, payload)), None)
                why = f"out of order: {later.describe()} before earlier events" if later else ""
                if out.unexpected is None:
                    out.unexpected = (label, event, payload, why)
            for i, e in mine:
                if i not in consumed:
                    out.missing.append(e)
        for gi in sorted(hit):
            g = groups[gi]
            out.groups_hit.append(g)
        # a group that came must come to every socket it names (but its loose ones)
        for g in out.groups_hit:
            for e in g.expects:
                if e.socket in g.loose or e.socket not in self.conns:
                    continue
                if not any(e.matches(ev, p) for ev, p in self._received(e.socket)):
                    out.missing.append(e)
        return out

    def _unexpected(self, item: tuple[str, str, Any, str]) -> None:
        label, event, payload, why = item
        task = get(payload, "taskId")
        sock = self.model.sockets[label]
        name = self.names.get(task, task) if isinstance(task, str) else task
        if why:
            req = "ORDER-1" if event in (Event.NEW_MESSAGE, Event.MESSAGE_EDITED,
                                         Event.MESSAGE_DELETED) else UNEXPECTED.get(event,
                                                                                    "STATE-1")
            if event == Event.USER_STOPPED_TYPING:
                req = "TYPE-5" if any(e == Event.USER_LEFT for e in self._names(label)) \
                    else "TYPE-3"
            raise Divergence(req, f"{label} receives the events in the contract's order",
                             f"{why}; received {self.show(self._names(label))}")
        if event != Event.ERROR and isinstance(task, str) and task not in sock.rooms:
            how = self.how_out.get((label, task))
            req = {"left": "ROOM-5", "removed": "PERM-7"}.get(how or "", "STATE-1")
            state = {"left": "left it by leave_task", "removed": "was removed from it"}.get(
                how or "", "is not in it")
            raise Divergence(req, f"{label} receives nothing from {name}'s room: it {state}",
                             f"{event} {self.show(payload)}")
        raise Divergence(UNEXPECTED.get(event, "STATE-1"),
                         f"{label} receives only the events the contract entitles it to",
                         f"an extra {event} {self.show(payload)}; the model expected none here")

    # -- history ----------------------------------------------------------------------------

    def history(self, user: str, task: str) -> None:
        tid = self.tid(task)
        try:
            resp = history(self.ctx.target.url, self.tokens[user], tid,
                           timeout=self.ctx.target.timeouts.ack)
        except Exception as exc:  # requests' errors: a reset is a finding, not a crash
            raise Divergence("STORE-2", "GET /api/tasks/{taskId}/messages answers",
                             str(exc)) from None
        member = user in self.model.tasks[tid]
        if not member:
            if resp.status_code != 403:
                raise Divergence("STORE-4", f"history for the non-member {user} is refused "
                                 "with 403", f"HTTP {resp.status_code} {resp.text[:200]}")
            return
        if resp.status_code != 200:
            raise Divergence("STORE-2", f"history for the member {user} answers 200",
                             f"HTTP {resp.status_code} {resp.text[:200]}")
        try:
            page = resp.json()
        except ValueError:
            raise Divergence("STORE-2", "history answers JSON", resp.text[:200]) from None
        problems = self.model.history_complaints(tid, page)
        if problems:
            req, text = problems[0]
            raise Divergence(req, f"history of {task} as {user} matches what was said",
                             self.show(text))

