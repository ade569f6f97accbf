"""What a check works with: users, fresh tasks, connections that record and validate, findings.

A check states expectations through this module so that every failure carries the requirement
it breaks, what was expected, what was observed, and the frames the sockets sent and received.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import requests
from taskchat.conformance.observer import (
    ack_violations,
    connect_violations,
    event_violations,
    requirement_for,
)
from taskchat.conformance.registry import Check
from taskchat.conformance.results import Finding
from taskchat.schemas import ErrorCode, Event

from taskchat.client.config import DISPLAY_NAMES, TASK_ROLES, ConfigError, Target
from taskchat.client.connection import (
    AckTimeout,
    ClientError,
    Connection,
    ConnectRefused,
    EventTimeout,
)
from taskchat.client.control import ControlAdapter, NoControl, history
from taskchat.client.tokens import claims_of

Payload = dict[str, Any]
Predicate = Callable[[Any], bool]

_MAX_FRAME = 600
RATE_LIMIT_CHECK = "errors.rate_limit_slow"
_MAX_FRAMES = 80


class CheckFailed(Exception):
    """An expectation the rest of the check depends on did not hold."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(f"{finding.requirement}: {finding.expectation} / {finding.observed}")
        self.finding = finding


class SkipCheck(Exception):
    """The target cannot run this check (reported as skipped, with the reason)."""


def error_code(ack: Any) -> Any:
    """The code of an ``ok: false`` ack, whatever shape a faulty server gave it."""
    error = ack.get("error") if isinstance(ack, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def short(value: Any, limit: int = _MAX_FRAME) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} characters)"


@dataclass(frozen=True)
class User:
    role: str
    sub: str
    token: str
    name: str


class Client:
    """One socket of one user, as a check sees it."""

    def __init__(self, ctx: Ctx, user: User, conn: Connection, label: str) -> None:
        self.ctx, self.user, self.conn, self.label = ctx, user, conn, label

    # -- requests ---------------------------------------------------------------------------

    def call(self, event: str, *args: Any, req: str = "TRANS-10") -> Any:
        """The ack's payload; no ack within the timeout breaks ``req`` (by default TRANS-10)."""
        ack = self._call(event, args, req)
        deadline = time.monotonic() + self._rate_window() + self.ctx.target.timeouts.ack
        while self._rate_limited(ack) and time.monotonic() < deadline:
            # A server that asks to slow down is not failing the check at hand: wait and retry.
            # Only the rate-limit check itself (ERR-6) looks at RATE_LIMITED as a result.
            self.wait(Event.ERROR, lambda p: p.get("code") == ErrorCode.RATE_LIMITED, req="ERR-1")
            time.sleep(min(1.0, self._rate_window() / 5))  # no event tells when the window ends
            ack = self._call(event, args, req)
        for level, violation in ack_violations(event, ack):
            self.ctx.finding(requirement_for(level, "DATA-1"),
                             f"the {event} ack validates against its schema ({level})",
                             f"{violation} in {short(ack)}")
        return ack[0] if len(ack) == 1 else ack

    def _call(self, event: str, args: tuple[Any, ...], req: str) -> list[Any]:
        try:
            return self.conn.call(event, *args, timeout=self.ctx.target.timeouts.ack)
        except AckTimeout as exc:
            self.ctx.fail(req, f"an ack for {event} within the ack timeout", str(exc))

    def _rate_window(self) -> float:
        limit = self.ctx.target.rate_limit
        return limit.window if limit else 10.0

    def _rate_limited(self, ack: list[Any]) -> bool:
        if self.ctx.check.name == RATE_LIMIT_CHECK or len(ack) != 1:
            return False
        a = ack[0]
        return isinstance(a, dict) and a.get("ok") is False and error_code(a) == ErrorCode.RATE_LIMITED

    def ok(self, event: str, *args: Any, req: str) -> Payload:
        ack = self.call(event, *args)
        if not (isinstance(ack, dict) and ack.get("ok") is True):
            self.ctx.fail(req, f"{event} {short(args, 200)} is acknowledged ok: true",
                          f"ack {short(ack)}")
        self.ctx.observe()
        return ack

    def refused(self, event: str, *args: Any, code: str, req: str) -> Payload:
        """The request must be refused with ``code``, in the ack and in an ``error`` event."""
        ack = self.call(event, *args)
        got = error_code(ack)
        if not (isinstance(ack, dict) and ack.get("ok") is False and got == code):
            self.ctx.fail(req, f"{event} {short(args, 300)} is refused with {code}",
                          f"ack {short(ack)}")
        self.wait(Event.ERROR, lambda p: p.get("code") == code, req="ERR-1",
                  what=f"an error event with code {code} for {event}")
        self.ctx.observe()
        return ack

    def send(self, task_id: str, text: str, *, req: str = "MSG-1", **extra: Any) -> Payload:
        """Send a message; returns the acknowledged message object."""
        ack = self.ok(Event.SEND_MESSAGE, {"taskId": task_id, "message": text, **extra}, req=req)
        message = ack.get("message")
        if not isinstance(message, dict):
            self.ctx.fail(req, "the send_message ack carries the message", short(ack))
        return message

    def join(self, task_id: str, req: str = "ROOM-1") -> Payload:
        return self.ok(Event.JOIN_TASK, task_id, req=req)

    def emit(self, event: str, *args: Any) -> None:
        self.conn.emit(event, *args)

    # -- events -----------------------------------------------------------------------------

    def wait(self, event: str, predicate: Predicate | None = None, *, req: str,
             what: str | None = None, timeout: float | None = None) -> Payload:
        """The next such event's payload, or a failure of ``req`` when none comes in time."""
        limit = self.ctx.target.timeouts.event if timeout is None else timeout

        def match(args: list[Any]) -> bool:
            if predicate is None:
                return True
            try:
                return bool(predicate(args[0] if args else None))
            except (AttributeError, TypeError, KeyError, IndexError):
                return False

        try:
            args = self.conn.wait_for(event, match, timeout=limit)
        except EventTimeout:
            self.ctx.fail(req, f"{self.label} receives {what or event}",
                          f"nothing within {limit:g}s; {self.label} received: "
                          f"{short(self.names(), 300)}")
        self.ctx.observe()
        return args[0] if args else {}

    def got(self, event: str, predicate: Predicate | None = None) -> list[Payload]:
        """Every such event received so far (whether or not a wait consumed it)."""
        out = []
        for item in list(self.conn.received):
            if item.event != event:
                continue
            payload = item.args[0] if item.args else None
            try:
                if predicate is None or predicate(payload):
                    out.append(payload)
            except (AttributeError, TypeError, KeyError):
                continue
        return out

    def names(self) -> list[str]:
        return [r.event for r in list(self.conn.received)]

    def index_of(self, event: str, predicate: Predicate | None = None) -> int | None:
        for i, item in enumerate(list(self.conn.received)):
            payload = item.args[0] if item.args else None
            try:
                if item.event == event and (predicate is None or predicate(payload)):
                    return i
            except (AttributeError, TypeError, KeyError):
                continue
        return None

    def close(self) -> None:
        self.conn.close()


class Ctx:
    """The state of one check run: its users, tasks, sockets and findings."""

    _seq = itertools.count(1)

    def __init__(self, target: Target, control: ControlAdapter | NoControl, check: Check) -> None:
        self.target = target
        self.control = control
        self.check = check
        self.seq = next(Ctx._seq)
        self.findings: list[Finding] = []
        self.clients: list[Client] = []
        self.raw_frames: list[dict[str, Any]] = []
        self.closers: list[Callable[[], None]] = []
        self.notes: list[str] = []
        # options a rerun of this check needs besides its seed (replay.replay_command's extra)
        self.replay_args: list[str] = []
        # expectations evaluated and answers seen: a check that ends with none did not check
        # anything, and is a skip, never a pass (D27)
        self.observations = 0
        self._users: dict[str, User] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.t0 = time.monotonic()

    # -- findings ---------------------------------------------------------------------------

    def finding(self, req: str, expectation: str, observed: str) -> Finding:
        f = Finding(req, expectation, observed, t=round(time.monotonic() - self.t0, 4))
        with self._lock:
            self.findings.append(f)
        return f

    def observe(self) -> None:
        """Something was checked (an expectation held, an awaited answer came)."""
        with self._lock:
            self.observations += 1

    def expect(self, cond: bool, req: str, expectation: str, observed: Any = "") -> bool:
        """A soft expectation: recorded when false, and the check goes on."""
        self.observe()
        if not cond:
            self.finding(req, expectation, observed if isinstance(observed, str) else short(observed))
        return cond

    def fail(self, req: str, expectation: str, observed: Any) -> NoReturn:
        raise CheckFailed(Finding(req, expectation, short(observed, 2000),
                                  t=round(time.monotonic() - self.t0, 4)))

    def note(self, text: str) -> None:
        """Something the report should say although nothing failed (a part not run)."""
        self.notes.append(text)

    def skip(self, reason: str) -> NoReturn:
        raise SkipCheck(reason)

    # -- users and tasks --------------------------------------------------------------------

    def uid(self, prefix: str = "cf") -> str:
        return f"{prefix}-{self.target.run_id}-{self.seq}-{next(self._ids)}"

    @property
    def has_control(self) -> bool:
        return not isinstance(self.control, NoControl)

    def user(self, role: str, **claims: Any) -> User:
        """This check's user for ``role``: freshly minted when the secret is known, so no two
        checks share a user (rate limits and presence are per user), else the config's token."""
        key = role if not claims else f"{role}:{sorted(claims.items())}"
        if key in self._users:
            return self._users[key]
        if self.target.can_mint:
            sub = self.uid(role)
            claims.setdefault("name", DISPLAY_NAMES.get(role, role.title()))
            if "first_name" in claims or "last_name" in claims:
                claims.pop("name")
            token = self.target.mint(sub, **claims)
            name = claims.get("name") or " ".join(
                p for p in (claims.get("first_name"), claims.get("last_name")) if p)
        else:
            if claims:
                self.skip("this check mints tokens with particular claims: it needs jwt_secret")
            token = self.target.token(role)
            c = claims_of(token)
            sub = str(c["sub"])
            name = c.get("name") or " ".join(
                str(p) for p in (c.get("first_name"), c.get("last_name")) if p)
        user = User(role, sub, token, str(name))
        self._users[key] = user
        return user

    def room(self, *roles: str) -> str:
        """A task whose members are this check's users in their roles (owner, admin, member,
        member2, viewer by default): a fresh one through the control adapter, else tasks.main."""
        if not self.has_control:
            try:
                return self.target.tasks["main"]
            except KeyError:
                raise ConfigError("the config names no tasks.main") from None
        task_id = self.control.create_task(f"conformance {self.check.name}", self.uid("task"))
        for role in roles or tuple(TASK_ROLES):
            user = self.user(role)
            self.control.set_member(task_id, user.sub, TASK_ROLES[role], user.name)
        return task_id

    def other_room(self) -> str:
        """A second task where ``member`` may send (tasks.other without a control adapter)."""
        if not self.has_control:
            if "other" not in self.target.tasks:
                self.skip("the config names no tasks.other")
            return self.target.tasks["other"]
        return self.room("owner", "member")

    def missing_task(self) -> str:
        return self.uid("no-such-task")

    # -- connections ------------------------------------------------------------------------

    def _on_event(self, label: str) -> Callable[[str, list[Any], float], None]:
        def observe(event: str, args: list[Any], _t: float) -> None:
            for level, violation in event_violations(event, args):
                self.finding(requirement_for(level, "DATA-1"), f"the {event} event {label} "
                             f"received validates against its schema ({level})",
                             f"{violation} in {short(args)}")
        return observe

    def new_connection(self, auth: dict[str, Any] | None, label: str) -> Connection:
        conn = Connection(self.target.url, auth, timeout=self.target.timeouts.connect,
                          record=True, on_event=self._on_event(label))
        return conn

    def connect(self, who: str | User, *, label: str | None = None, req: str = "AUTH-1") -> Client:
        user = who if isinstance(who, User) else self.user(who)
        label = label or f"{user.role}#{sum(c.user is user for c in self.clients) + 1}"
        conn = self.new_connection({"token": user.token}, label)
        client = Client(self, user, conn, label)
        self.clients.append(client)
        try:
            conn.connect()
        except ConnectRefused as exc:
            self.fail(req, f"{label} ({user.role}, a valid token) is accepted", exc.payload)
        except ClientError as exc:
            self.fail(req, f"{label} connects", str(exc))
        self.observe()
        return client

    def join(self, who: str | User, task_id: str, *, label: str | None = None) -> Client:
        client = self.connect(who, label=label)
        client.join(task_id)
        return client

    def refused_connect(self, auth: Any, *, code: str, req: str, what: str) -> None:
        """A CONNECT with ``auth`` must get CONNECT_ERROR with ``code`` (and a valid payload)."""
        label = f"refused#{next(self._ids)}"
        conn = self.new_connection(auth, label)
        self.clients.append(Client(self, User("anonymous", "", "", ""), conn, label))
        try:
            conn.connect()
        except ConnectRefused as exc:
            for level, violation in connect_violations("refused", exc.payload):
                self.finding(requirement_for(level, "AUTH-10"), "CONNECT_ERROR validates "
                             f"against connect/connect_error.json ({level})",
                             f"{violation} in {short(exc.payload)}")
            self.expect(exc.code == code, req, f"{what} is refused with {code}",
                        f"CONNECT_ERROR {short(exc.payload)}")
            return
        except ClientError as exc:
            self.fail(req, f"{what} is refused with a CONNECT_ERROR ({code})", str(exc))
        conn.close()
        self.fail(req, f"{what} is refused with {code}", "the server accepted the connection")

    # -- waiting ----------------------------------------------------------------------------

    def quiet(self) -> None:
        """The quiet period after a positive barrier, for "nothing else arrived" assertions."""
        time.sleep(self.target.timeouts.quiet)

    def barrier(self, sender: Client, task_id: str, watchers: list[Client]) -> Payload:
        """A marker message from ``sender`` that every watcher must see, then the quiet period:
        whatever an earlier request caused has arrived by then."""
        marker = sender.send(task_id, f"barrier {self.uid('m')}", req="MSG-1")
        for w in watchers:
            w.wait(Event.NEW_MESSAGE, lambda p: p["message"]["id"] == marker["id"],
                   req="MSG-1", what="the marker message")
        self.quiet()
        return marker

    def history(self, who: str | User | None, task_id: str, **params: Any) -> requests.Response:
        token = None
        if who is not None:
            token = (who if isinstance(who, User) else self.user(who)).token
        try:
            return history(self.target.url, token, task_id, timeout=self.target.timeouts.ack,
                           **params)
        except requests.RequestException as exc:
            self.fail("STORE-2", "GET /api/tasks/{taskId}/messages answers", str(exc))

    def http(self, method: str, path: str, *, token: str | None = None, req: str,
             **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return requests.request(method, f"{self.target.url}{path}", headers=headers,
                                    timeout=self.target.timeouts.ack, **kwargs)
        except requests.RequestException as exc:
            self.fail(req, f"{method} {path} answers", str(exc))

    # -- frames for the report --------------------------------------------------------------

    def frames(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = list(self.raw_frames)
        for c in self.clients:
            for f in list(c.conn.transcript):
                data = f.data if isinstance(f.data, str) else f"<{len(f.data)} bytes>"
                out.append({"socket": c.label, "direction": f.direction,
                            "t": round(f.t - self.t0, 4), "data": short(data)})
        out.sort(key=lambda f: f["t"])
        if len(out) <= _MAX_FRAMES:
            return out
        # a long check: the frames that led to each finding, and a few that came right after
        keep: set[int] = set()
        per = max(4, _MAX_FRAMES // max(1, len(self.findings)))
        for x in self.findings:
            upto = sum(1 for f in out if f["t"] <= x.t)
            keep.update(range(max(0, upto - per + 3), min(len(out), upto + 3)))
        return [out[i] for i in sorted(keep)][-_MAX_FRAMES * 2:]

    def close(self) -> None:
        for c in self.clients:
            c.close()
        for closer in self.closers:
            closer()


__all__ = ["CheckFailed", "Client", "Ctx", "ErrorCode", "Event", "SkipCheck", "User"]
