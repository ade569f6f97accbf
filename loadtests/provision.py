"""Rooms and users for a load run, against any server the conformance config can describe.

Two ways, chosen by what the target offers:
- a JWT secret and a control adapter (the reference server's admin API): every simulated user
  gets a token of its own and every room is a fresh task, with ids unique to this run and this
  process (run id + process tag + counter), so workers never collide and a long-lived server can
  be loaded again and again;
- pre-made tokens only (``adapter = "none"``): the users take turns with the config's tokens of
  the roles that may comment, in the config's main task.

Room membership is assigned per process: a room's members all live in one process, which is what
lets the delivery tracker compare send and receive times on one clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import requests

from taskchat.client.config import Target
from taskchat.client.control import ControlAdapter, NoControl, load_adapter

COMMENTING_ROLES = ("member", "member2", "owner", "admin")
TOKEN_TTL = 24 * 3600


@dataclass(frozen=True)
class Identity:
    user_id: str
    name: str
    token: str


class Provisioner:
    """Hands out identities and rooms; creates them on the server when it can. Thread-safe."""

    def __init__(self, target: Target, tag: str) -> None:
        self.target = target
        self.tag = tag
        self.control: ControlAdapter | NoControl = (
            load_adapter(target.adapter, target) if target.can_mint else NoControl()
        )
        self.managed = target.can_mint and not isinstance(self.control, NoControl)
        session = getattr(self.control, "session", None)
        if isinstance(session, requests.Session):
            # users set up their rooms concurrently: one pooled connection each, not 10 in all
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=256)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self._lock = threading.Lock()
        self._numbers: dict[str, int] = {}
        self._rooms: dict[str, str] = {}
        self._room_locks: dict[str, threading.Lock] = {}

    def next_user_number(self, kind: str = "") -> int:
        """The user's place among the users of ``kind`` (its scenario) in this process: what
        puts it in a room."""
        with self._lock:
            number = self._numbers.get(kind, 0)
            self._numbers[kind] = number + 1
            return number

    def identity(self, number: int, kind: str = "") -> Identity:
        """User ``number`` of ``kind``: its own token and id (unique to the run and process) when
        the target can mint, else one of the config's pre-made tokens in turn."""
        if self.managed:
            user_id = f"lt-{self.tag}-{kind}u{number}"
            name = f"Load User{number}"
            return Identity(user_id, name, self.target.mint(user_id, name=name, ttl=TOKEN_TTL))
        roles = [r for r in COMMENTING_ROLES if r in self.target.tokens]
        role = roles[number % len(roles)]
        return Identity(self.target.user_id(role), role, self.target.token(role))

    def room(self, key: str) -> str:
        """The task id of this process's room ``key``, created on first use."""
        if not self.managed:
            return self.target.tasks.get("main") or next(iter(self.target.tasks.values()))
        with self._lock:
            if key in self._rooms:
                return self._rooms[key]
            lock = self._room_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._rooms:
                    return self._rooms[key]
            task_id = self.control.create_task(f"load room {key}", f"lt-{self.tag}-{key}")
            with self._lock:
                self._rooms[key] = task_id
            return task_id

    def add_member(self, room: str, who: Identity) -> None:
        if self.managed:
            self.control.set_member(room, who.user_id, "member", who.name)
