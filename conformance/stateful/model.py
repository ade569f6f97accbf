"""A model of the task-chat protocol, written from CONTRACT.md and docs/protocol.md alone.

Sans-IO: no sockets, no clock. Given the state of a session (who is a member of which task in
which role, which socket is connected and in which room, who is typing, which messages exist),
``predict_*`` says what one action must cause: the ack it must get, and for every socket of the
session the exact events it must receive, and no others. Where the contract leaves a choice,
the prediction lists each allowed answer (``Outcome``) or marks events optional (``Group``), so a
correct server never diverges. It shares nothing with the reference server: the rules below are
read from the contract's tables (§4 roles, §5 requests, §6 recipients, §10 precedence and order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from taskchat.schemas import ErrorCode, Event

# CONTRACT §4: what each role may do.
CAN_COMMENT = frozenset({"owner", "admin", "member"})  # send, edit own, type
CAN_DELETE_OWN = frozenset({"owner", "admin", "member"})
CAN_DELETE_OTHERS = frozenset({"owner", "admin"})


class _Missing:
    def __repr__(self) -> str:
        return "<absent>"


MISSING: Any = _Missing()


class _Nullish:
    """An expected value: ``null`` or the field left out (the contract allows both)."""

    def __repr__(self) -> str:
        return "null or absent"


NULLISH: Any = _Nullish()


class _NotTrue:
    def __repr__(self) -> str:
        return "false, null or absent"


NOT_TRUE: Any = _NotTrue()


def get(payload: Any, path: str) -> Any:
    """``message.user_id`` of a payload, or MISSING."""
    value = payload
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def same(expected: Any, actual: Any) -> bool:
    if expected is NULLISH:
        return actual is None or actual is MISSING
    if expected is NOT_TRUE:
        return actual is not True
    if isinstance(expected, str):  # an enum member of taskchat.schemas is a str too
        return isinstance(actual, str) and str(expected) == actual
    if isinstance(expected, bool | int | float) or expected is None:
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


Fields = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Expect:
    """One event one socket must (or, in a group, may) receive."""

    socket: str
    event: str
    task: str | None  # the payload's taskId (None: an error event, matched by code)
    key: Fields  # what identifies it among the socket's events
    content: Fields  # what it must then carry
    req: str

    def matches(self, event: str, payload: Any) -> bool:
        if event != self.event:
            return False
        if self.task is not None and get(payload, "taskId") != self.task:
            return False
        return all(same(v, get(payload, p)) for p, v in self.key)

    def complaints(self, payload: Any) -> list[str]:
        return [f"{p} is {get(payload, p)!r}, expected {v!r}"
                for p, v in self.content if not same(v, get(payload, p))]

    def describe(self) -> str:
        what = ", ".join(f"{p}={v!r}" for p, v in self.key)
        return f"{self.event}({what})" if what else self.event


@dataclass
class Group:
    """Events the contract allows but does not require: all of them come, or none. When they
    come the state changes by ``apply`` (a typing indicator a server chose to end)."""

    label: str
    expects: list[Expect]
    apply: Callable[[], None]
    # sockets whose copy is optional even when the group comes
    loose: frozenset[str] = frozenset()


@dataclass
class Outcome:
    """One allowed answer to an action: its ack, the events it causes, the state after it."""

    label: str
    req: str  # what breaks when the server answers nothing like this
    ok: bool | None  # the ack's ok (None: the action has no ack)
    code: str | None = None  # the error code of an ok:false ack
    ack: Fields = ()
    ack_check: Callable[[Any], list[tuple[str, str]]] | None = None  # (requirement, complaint)
    events: list[Expect] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    apply: Callable[[Any], None] | None = None

    def accepts(self, ack: Any) -> bool:
        if self.ok is None:
            return True
        if not isinstance(ack, dict) or ack.get("ok") is not self.ok:
            return False
        if self.ok:
            return True
        error = ack.get("error")
        return isinstance(error, dict) and error.get("code") == self.code


@dataclass(frozen=True)
class UserInfo:
    key: str
    sub: str
    name: str
    avatar_url: str | None = None

    @property
    def first_name(self) -> str:  # CONTRACT §10: the part of name before the first space
        return self.name.split(" ", 1)[0]

    @property
    def last_name(self) -> str:
        parts = self.name.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""


@dataclass
class SocketState:
    label: str
    user: str
    connected: bool = False
    rooms: set[str] = field(default_factory=set)


@dataclass
class Msg:
    id: str
    task: str
    author: str
    text: str
    cmid: str | None
    reply_to: str | None
    deleted: bool = False
    edited: bool = False


@dataclass
class Typing:
    """A typing indicator: the server must end it by itself between ``lo`` and ``hi``
    (monotonic seconds; the typing timeout after the last typing_start, with tolerances)."""

    lo: float
    hi: float


def _trimmed(text: str) -> str:
    return text.strip()


class ChatModel:
    """The state of one session and the predictions of the contract."""

    def __init__(self, users: Iterable[UserInfo], tasks: dict[str, dict[str, str]],
                 sockets: dict[str, str]) -> None:
        self.users = {u.key: u for u in users}
        self.tasks = {t: dict(members) for t, members in tasks.items()}
        self.sockets = {label: SocketState(label, user) for label, user in sockets.items()}
        self.typing: dict[tuple[str, str], Typing] = {}
        # (task, user): the user's last socket in the room disconnected while no other socket was
        # there to see user_left. A disconnect has no ack, and nothing orders one connection's
        # close before another connection's next request, so until a join shows the room, the
        # server may not have processed it yet (see predict_join).
        self.departing: dict[tuple[str, str], bool] = {}  # -> whether the user was typing
        self.messages: list[Msg] = []

    # -- derived state ----------------------------------------------------------------------

    def room(self, task: str) -> list[str]:
        """The sockets in the task's room."""
        return [s.label for s in self.sockets.values() if s.connected and task in s.rooms]

    def present(self, task: str) -> set[str]:
        return {self.sockets[s].user for s in self.room(task)}

    def sub(self, user: str) -> str:
        return self.users[user].sub

    def msg_by_cmid(self, task: str, user: str, cmid: str) -> Msg | None:
        for m in self.messages:
            if m.task == task and m.author == user and m.cmid == cmid:
                return m
        return None

    # -- building blocks --------------------------------------------------------------------

    def _refused(self, sock: str, code: str, req: str, label: str | None = None) -> Outcome:
        err = Expect(sock, Event.ERROR, None, (("code", code),), (), "ERR-1")
        return Outcome(label or f"refused {code}", req, False, code, events=[err])

    def _gate(self, sock: str, task: str, *, joined: bool = True) -> Outcome | None:
        """The refusals CONTRACT §10 checks first: TASK_NOT_FOUND, FORBIDDEN (not a member),
        NOT_JOINED."""
        s = self.sockets[sock]
        if task not in self.tasks:
            return self._refused(sock, ErrorCode.TASK_NOT_FOUND, "ROOM-3")
        if s.user not in self.tasks[task]:
            return self._refused(sock, ErrorCode.FORBIDDEN, "PERM-7")
        if joined and task not in s.rooms:
            return self._refused(sock, ErrorCode.NOT_JOINED, "ROOM-6")
        return None

    def _text_gate(self, sock: str, task: str, text: str) -> Outcome | None:
        """INVALID_PAYLOAD for text that is blank once trimmed (§5), then ``_gate``."""
        if not _trimmed(text):
            return self._refused(sock, ErrorCode.INVALID_PAYLOAD, "MSG-2")
        return self._gate(sock, task)

    def _to(self, socks: Iterable[str], event: str, task: str, key: Fields, content: Fields,
            req: str) -> list[Expect]:
        return [Expect(s, event, task, key, content, req) for s in socks]

    def _stopped(self, task: str, user: str, socks: Iterable[str], req: str) -> list[Expect]:
        return self._to(socks, Event.USER_STOPPED_TYPING, task,
                        (("userId", self.sub(user)),), (), req)

    def _presence(self, event: str, task: str, user: str, socks: Iterable[str],
                  req: str) -> list[Expect]:
        u = self.users[user]
        return self._to(socks, event, task, (("userId", u.sub),), (("userName", u.name),), req)

    def _optional_stop(self, task: str, user: str, socks: list[str], label: str,
                       loose: Iterable[str] = ()) -> list[Group]:
        """Where the contract does not say whether a typing indicator ends."""
        if (task, user) not in self.typing or not socks:
            return []

        def end() -> None:
            self.typing.pop((task, user), None)

        return [Group(label, self._stopped(task, user, socks, "TYPE-2"), end, frozenset(loose))]

    def _leave_room(self, sock: str, task: str, *, req_left: str = "PRES-2",
                    removed: bool = False) -> tuple[list[Expect], list[Group], Callable[[], None]]:
        """A socket goes out of a room: what the rest of the room gets, and the state change."""
        s = self.sockets[sock]
        rest = [x for x in self.room(task) if x != sock]
        if removed:  # all of the user's sockets go at once
            rest = [x for x in rest if self.sockets[x].user != s.user]
        last = removed or not any(self.sockets[x].user == s.user for x in rest)
        events: list[Expect] = []
        groups: list[Group] = []
        typing = (task, s.user) in self.typing
        if last:
            if typing:
                events += self._stopped(task, s.user, rest, "TYPE-5")
            events += self._presence(Event.USER_LEFT, task, s.user, rest, req_left)
        else:
            groups += self._optional_stop(task, s.user, rest, "a tab left: typing may end")

        def apply() -> None:
            if removed:
                for x in self.sockets.values():
                    if x.user == s.user:
                        x.rooms.discard(task)
            else:
                s.rooms.discard(task)
            if last:
                self.typing.pop((task, s.user), None)

        return events, groups, apply

    # -- socket actions ---------------------------------------------------------------------

    def predict_connect(self, sock: str) -> list[Outcome]:
        def apply(_ack: Any) -> None:
            self.sockets[sock].connected = True
            self.sockets[sock].rooms = set()

        return [Outcome("connected", "AUTH-1", None, apply=apply)]

    def predict_disconnect(self, sock: str) -> list[Outcome]:
        s = self.sockets[sock]
        events: list[Expect] = []
        groups: list[Group] = []
        applies: list[Callable[[], None]] = []
        for task in sorted(s.rooms):
            e, g, a = self._leave_room(sock, task)
            events += e
            groups += g
            applies.append(a)

        unseen = {t: (t, s.user) in self.typing for t in sorted(s.rooms)
                  if all(x == sock for x in self.room(t))}

        def apply(_ack: Any) -> None:
            for a in applies:
                a()
            s.connected = False
            s.rooms = set()
            self.departing.update({(t, s.user): typing for t, typing in unseen.items()})

        return [Outcome("disconnected", "PRES-2", None, events=events, groups=groups,
                        apply=apply)]

    def predict_join(self, sock: str, task: str) -> list[Outcome]:
        refused = self._gate(sock, task, joined=False)
        if refused:
            if refused.code == ErrorCode.FORBIDDEN:
                refused.req = "PERM-1"
            return [refused]
        s = self.sockets[sock]
        user = self.users[s.user]
        already = task in s.rooms
        present_before = self.present(task)
        events: list[Expect] = []
        if not already and s.user not in present_before:
            events = self._presence(Event.USER_JOINED, task, s.user,
                                    [x for x in self.room(task) if x != sock], "PRES-1")
        online = {self.users[u].sub: self.users[u].name for u in present_before | {s.user}}
        # users whose unseen disconnect the server may not have processed yet: listed or not,
        # both are right; listed, the joiner must then get their user_left (PRES-2)
        maybe_gone = {self.users[u].sub: u for t, u in self.departing
                      if t == task and u != s.user and u not in present_before}

        def check(ack: Any) -> list[tuple[str, str]]:
            listed = ack.get("onlineUsers") if isinstance(ack, dict) else None
            if not isinstance(listed, list):
                return [("ROOM-1", f"onlineUsers is {listed!r}")]
            ids = [u.get("userId") if isinstance(u, dict) else u for u in listed]
            if user.sub not in ids:
                return [("ROOM-1", f"onlineUsers lists {ids}, without the joiner")]
            if len(ids) != len(set(map(str, ids))):
                return [("PRES-3", f"onlineUsers lists {ids}: a user twice")]
            out = []
            late = [maybe_gone[i] for i in map(str, ids) if i in maybe_gone]
            for u in late:
                if self.departing.get((task, u)):  # it ends the typing indicator first (TYPE-5)
                    events.extend(self._stopped(task, u, [sock], "TYPE-5"))
                events.extend(self._presence(Event.USER_LEFT, task, u, [sock], "PRES-2"))
            if sorted(i for i in map(str, ids) if i not in maybe_gone) != sorted(online):
                out.append(("STATE-2", f"onlineUsers lists {ids}, expected exactly "
                                       f"{sorted(online)} (the users with a socket in the room)"))
            for u in listed:
                if isinstance(u, dict) and u.get("userId") in online \
                        and u.get("userName") != online[u["userId"]]:
                    out.append(("ROOM-1", f"onlineUsers gives {u.get('userId')} the name "
                                          f"{u.get('userName')!r}, expected "
                                          f"{online[u['userId']]!r}"))
            return out

        def apply(_ack: Any) -> None:
            s.rooms.add(task)
            # the join showed the room as the server has it: every earlier close is processed
            self.departing = {k: v for k, v in self.departing.items() if k[0] != task}

        req = "ROOM-2" if already else "ROOM-1"
        return [Outcome("joined", req, True, ack=(("taskId", task),), ack_check=check,
                        events=events, apply=apply)]

    def predict_leave(self, sock: str, task: str) -> list[Outcome]:
        s = self.sockets[sock]
        if task not in self.tasks:
            return [self._refused(sock, ErrorCode.TASK_NOT_FOUND, "ROOM-3")]
        noop = Outcome("left (no-op)", "ROOM-4", True)
        if s.user not in self.tasks[task]:
            # §5 "leaving a room you are not in is a no-op success"; D8 refuses a non-member
            return [self._refused(sock, ErrorCode.FORBIDDEN, "ROOM-4"), noop]
        if task not in s.rooms:
            return [noop]
        events, groups, leave = self._leave_room(sock, task)
        return [Outcome("left", "PRES-2", True, events=events, groups=groups,
                        apply=lambda _ack: leave())]

    def _rate_limited(self, sock: str) -> Outcome:
        # RATE_LIMITED is the server's own limit (a SHOULD): allowed wherever it is last in
        # the precedence of §10; it changes nothing
        return self._refused(sock, ErrorCode.RATE_LIMITED, "ERR-6", "rate limited")

    def predict_send(self, sock: str, task: str, text: str, cmid: str | None,
                     reply_to: str | None) -> list[Outcome]:
        s = self.sockets[sock]
        refused = self._text_gate(sock, task, text)
        if refused:
            return [refused]
        role = self.tasks[task][s.user]
        user = self.users[s.user]
        others = [x for x in self.room(task) if x != sock]
        original = self.msg_by_cmid(task, s.user, cmid) if cmid is not None else None
        if original is not None:
            # MSG-5: the original message in the ack, nothing broadcast again; the contract
            # does not say whether the retry ends a typing indicator
            retry = Outcome("the original message (a retry)", "MSG-5", True,
                            ack=(("message.id", original.id),),
                            groups=self._optional_stop(task, s.user, others,
                                                       "a retry may end typing"))
            if role not in CAN_COMMENT:  # §10 orders the retry only before the rate limit
                return [self._refused(sock, ErrorCode.FORBIDDEN, "PERM-6"), retry]
            return [retry]
        if role not in CAN_COMMENT:
            return [self._refused(sock, ErrorCode.FORBIDDEN, "PERM-6")]
        if reply_to is not None and not any(m.id == reply_to and m.task == task
                                            for m in self.messages):
            return [self._refused(sock, ErrorCode.MESSAGE_NOT_FOUND, "MSG-4")]
        body: Fields = (
            ("message.task_id", task),
            ("message.user_id", user.sub),
            ("message.first_name", user.first_name),
            ("message.last_name", user.last_name),
            ("message.avatar_url", user.avatar_url if user.avatar_url else NULLISH),
            ("message.message", _trimmed(text)),
            ("message.client_message_id", cmid if cmid is not None else NULLISH),
            ("message.reply_to", reply_to if reply_to is not None else NULLISH),
            ("message.is_edited", NOT_TRUE),
        )
        key: Fields = (("message.user_id", user.sub), ("message.message", _trimmed(text)))
        events: list[Expect] = []
        if (task, s.user) in self.typing:
            events += self._stopped(task, s.user, others, "TYPE-3")
        events += self._to(self.room(task), Event.NEW_MESSAGE, task, key, body, "MSG-1")
        known = {m.id for m in self.messages}

        def check(ack: Any) -> list[tuple[str, str]]:
            mid = get(ack, "message.id")
            return [("MSG-1", f"message.id {mid!r} is the id of an earlier message")] \
                if mid in known else []

        def apply(ack: Any) -> None:
            self.typing.pop((task, s.user), None)
            self.messages.append(Msg(str(get(ack, "message.id")), task, s.user, _trimmed(text),
                                     cmid, reply_to))

        sent = Outcome("sent", "MSG-1", True, ack=body, ack_check=check, events=events,
                       apply=apply)
        return [sent, self._rate_limited(sock)]

    def _message_refusal(self, sock: str, task: str, msg: Msg | None,
                         req: str) -> list[Outcome] | None:
        if msg is None or msg.task != task or msg.deleted:
            return [self._refused(sock, ErrorCode.MESSAGE_NOT_FOUND, req)]
        return None

    def predict_edit(self, sock: str, task: str, msg: Msg | None, text: str) -> list[Outcome]:
        s = self.sockets[sock]
        refused = self._text_gate(sock, task, text)
        if refused:
            return [refused]
        if self.tasks[task][s.user] not in CAN_COMMENT:
            return [self._refused(sock, ErrorCode.FORBIDDEN, "PERM-2")]
        missing = self._message_refusal(sock, task, msg, "MSG-8")
        if missing:
            if msg is not None and msg.task == task and msg.author != s.user:
                # someone else's deleted message: either refusal names a broken rule
                missing.append(self._refused(sock, ErrorCode.FORBIDDEN, "PERM-3"))
            return missing
        assert msg is not None
        if msg.author != s.user:
            return [self._refused(sock, ErrorCode.FORBIDDEN, "PERM-3")]
        author = self.users[msg.author]
        body: Fields = (
            ("message.id", msg.id),
            ("message.task_id", task),
            ("message.user_id", author.sub),
            ("message.message", _trimmed(text)),
            ("message.is_edited", True),
        )

        def apply(_ack: Any) -> None:
            msg.text, msg.edited = _trimmed(text), True

        events = self._to(self.room(task), Event.MESSAGE_EDITED, task,
                          (("message.id", msg.id), ("message.message", _trimmed(text))),
                          body, "MSG-6")
        return [Outcome("edited", "MSG-6", True, ack=body, events=events, apply=apply),
                self._rate_limited(sock)]

    def predict_delete(self, sock: str, task: str, msg: Msg | None) -> list[Outcome]:
        s = self.sockets[sock]
        refused = self._gate(sock, task)
        if refused:
            return [refused]
        role = self.tasks[task][s.user]
        if role not in CAN_DELETE_OWN:
            return [self._refused(sock, ErrorCode.FORBIDDEN, "PERM-4")]
        missing = self._message_refusal(sock, task, msg, "MSG-7")
        if missing:
            if (msg is not None and msg.task == task and msg.author != s.user
                    and role not in CAN_DELETE_OTHERS):
                missing.append(self._refused(sock, ErrorCode.FORBIDDEN, "PERM-4"))
            return missing
        assert msg is not None
        if msg.author != s.user and role not in CAN_DELETE_OTHERS:
            return [self._refused(sock, ErrorCode.FORBIDDEN, "PERM-4")]

        def apply(_ack: Any) -> None:
            msg.deleted = True

        events = self._to(self.room(task), Event.MESSAGE_DELETED, task,
                          (("messageId", msg.id),), (), "MSG-7")
        req = "PERM-5" if msg.author != s.user else "MSG-7"
        return [Outcome("deleted", req, True, ack=(("messageId", msg.id),), events=events,
                        apply=apply), self._rate_limited(sock)]

    def predict_typing_start(self, sock: str, task: str, now: float,
                             timeout: float, slack: float) -> list[Outcome]:
        s = self.sockets[sock]
        refused = self._gate(sock, task)
        if refused:
            return [refused]
        if self.tasks[task][s.user] not in CAN_COMMENT:
            return [self._refused(sock, ErrorCode.FORBIDDEN, "PERM-2")]
        user = self.users[s.user]
        events: list[Expect] = []
        if (task, s.user) not in self.typing:
            events = self._to([x for x in self.room(task) if x != sock], Event.USER_TYPING,
                              task, (("userId", user.sub),), (("userName", user.name),),
                              "TYPE-1")

        def apply(_ack: Any) -> None:
            # the server's clock started somewhere between the request and the ack
            self.typing[(task, s.user)] = Typing(now + timeout * 0.8, now + timeout + slack)

        return [Outcome("typing", "TYPE-1", True, events=events, apply=apply)]

    def predict_typing_stop(self, sock: str, task: str) -> list[Outcome]:
        s = self.sockets[sock]
        refused = self._gate(sock, task)
        if refused:
            return [refused]
        events: list[Expect] = []
        if (task, s.user) in self.typing:
            events = self._stopped(task, s.user, [x for x in self.room(task) if x != sock],
                                   "TYPE-2")

        def apply(_ack: Any) -> None:
            self.typing.pop((task, s.user), None)

        return [Outcome("stopped typing", "TYPE-2", True, events=events, apply=apply)]

    def expiries(self, now: float) -> tuple[list[Group], list[tuple[str, str]]]:
        """Typing indicators the server may end by itself now (TYPE-4), and those it must
        have ended already. The typer's own sockets may or may not be told."""
        groups: list[Group] = []
        overdue: list[tuple[str, str]] = []
        for (task, user), t in list(self.typing.items()):
            if now < t.lo:
                continue
            socks = self.room(task)
            own = frozenset(x for x in socks if self.sockets[x].user == user)

            def end(key: tuple[str, str] = (task, user)) -> None:
                self.typing.pop(key, None)

            groups.append(Group("typing expired", self._stopped(task, user, socks, "TYPE-4"),
                                end, own))
            if now > t.hi:
                overdue.append((task, user))
        return groups, overdue

    # -- backend actions --------------------------------------------------------------------

    def predict_set_member(self, task: str, user: str, role: str) -> list[Outcome]:
        u = self.users[user]
        action = "updated" if user in self.tasks[task] else "added"
        events = self._to(self.room(task), Event.MEMBER_CHANGED, task,
                          (("action", action), ("member.userId", u.sub)),
                          (("member.role", role), ("member.userName", u.name)), "BACK-3")
        groups: list[Group] = []
        if role not in CAN_COMMENT:  # may a demoted typer keep typing? the contract is silent
            groups = self._optional_stop(task, user, self.room(task), "a demotion may end typing",
                                         loose=self.room(task))

        def apply(_ack: Any) -> None:
            self.tasks[task][user] = role

        return [Outcome(f"member {action}", "BACK-3", None, events=events, groups=groups,
                        apply=apply)]

    def predict_remove_member(self, task: str, user: str) -> list[Outcome]:
        u = self.users[user]
        room = self.room(task)
        events = self._to(room, Event.MEMBER_CHANGED, task,
                          (("action", "removed"), ("member.userId", u.sub)), (), "BACK-3")
        mine = [x for x in room if self.sockets[x].user == user]
        applies: list[Callable[[], None]] = []
        if mine:
            e, g, a = self._leave_room(mine[0], task, removed=True)
            events += e
            applies.append(a)
            del g

        def apply(_ack: Any) -> None:
            for a in applies:
                a()
            self.typing.pop((task, user), None)
            del self.tasks[task][user]

        return [Outcome("member removed", "PERM-7", None, events=events, apply=apply)]

    def predict_update_task(self, task: str, changes: dict[str, Any]) -> list[Outcome]:
        events = self._to(self.room(task), Event.TASK_UPDATED, task, (("changes", changes),),
                          (), "BACK-2")
        return [Outcome("task updated", "BACK-2", None, events=events)]

    def predict_notify(self, task: str, kind: str, text: str,
                       data: dict[str, Any] | None) -> list[Outcome]:
        content: Fields = (("type", kind),)
        if data is not None:
            content += (("data", data),)
        events = self._to(self.room(task), Event.TASK_NOTIFICATION, task,
                          (("message", text),), content, "BACK-1")
        return [Outcome("notified", "BACK-1", None, events=events)]

    # -- history ----------------------------------------------------------------------------

    def history_complaints(self, task: str, page: Any) -> list[tuple[str, str]]:
        """(requirement, complaint) for a history page a member read (fewer than 50 messages
        in a session, so the page is the whole history)."""
        out: list[tuple[str, str]] = []
        messages = page.get("messages") if isinstance(page, dict) else None
        if not isinstance(messages, list):
            return [("STORE-2", f"the page has no messages list: {page!r}")]
        want = [m for m in reversed(self.messages) if m.task == task]
        ids = [get(m, "id") for m in messages]
        if ids != [m.id for m in want]:
            out.append(("STORE-2", f"history lists {ids}, expected {[m.id for m in want]} "
                                   "(every message of the task, newest first)"))
            return out
        for m, got in zip(want, messages, strict=True):
            if m.deleted:
                if get(got, "is_deleted") is not True or get(got, "message") not in ("", None):
                    out.append(("STORE-3", f"deleted message {m.id} is shown as {got!r}, "
                                           "expected is_deleted true and its text blanked"))
            elif get(got, "message") != m.text:
                out.append(("STORE-2", f"message {m.id} reads {get(got, 'message')!r}, "
                                       f"expected {m.text!r}"))
        if page.get("hasMore") is not False:
            out.append(("STORE-2", f"hasMore is {page.get('hasMore')!r} for a complete page"))
        return out
