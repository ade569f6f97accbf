"""SQLite storage: tasks, members and messages, with group commit off the trio thread.

Durability (CONTRACT §8): a write is committed before anything that depends on it goes out. The
app submits each request's writes with ``submit`` (which returns a ticket) and releases the
request's emits and ack only once ``committed >= ticket``. ``run_committer`` takes every write
submitted while the previous commit was in flight and commits them in one transaction, in a worker
thread, so a burst of sends costs one fsync, and the trio thread never waits for the disk.

Reads the chat rules make (a message by id, a clientMessageId) go through ``message`` and
``by_client_id``: first the overlay of submitted-but-uncommitted rows (so a retry racing its own
commit is still seen), then a small cache, then an indexed point query on a read-only connection.
That query stays on the trio thread on purpose: in WAL mode a reader never waits for the writer,
and a page-cache hit costs microseconds, less than a hop to a worker thread.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import outcome
import trio
from taskchat.reference_server.chat.effects import (
    DeleteMember,
    PutMember,
    PutMessage,
    PutTask,
    Write,
)
from taskchat.reference_server.chat.model import Member, Task

log = logging.getLogger("taskchat.store")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    title   TEXT NOT NULL,
    data    TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS members (
    task_id   TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    user_name TEXT NOT NULL,
    role      TEXT NOT NULL,
    PRIMARY KEY (task_id, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    seq               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    task_id           TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    client_message_id TEXT,
    is_deleted        INTEGER NOT NULL DEFAULT 0,
    deleted_at        TEXT,
    body              BLOB NOT NULL,
    UNIQUE (task_id, user_id, client_message_id)
);
CREATE INDEX IF NOT EXISTS messages_by_task ON messages (task_id, seq);
"""

_CACHE_SIZE = 4096


class HistoryError(Exception):
    """``before`` names no message of the task (D22: 404 MESSAGE_NOT_FOUND)."""


@dataclass(frozen=True, slots=True)
class HistoryPage:
    messages: list[dict[str, Any]]
    has_more: bool


class _Conn:
    """One sqlite3 connection and the lock that serialises its users."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()


class Store:
    def __init__(self, path: str = ":memory:", *, synchronous: str = "FULL") -> None:
        self.path = path
        memory = path == ":memory:" or path.startswith("file::memory:")
        first = self._open(path, synchronous)
        first.conn.executescript(_SCHEMA)
        self._writer = first
        # ":memory:" is private to its connection: there, one connection (and lock) does it all
        self._reader = first if memory else self._open(path, synchronous, readonly=True)
        self._history = first if memory else self._open(path, synchronous, readonly=True)
        self._pending: list[Write] = []
        self._pending_ticket = 0  # the ticket of the newest submitted write
        self.committed = 0  # every ticket up to this one is on disk
        self._overlay: dict[str, tuple[int, dict[str, Any]]] = {}  # id -> (ticket, message)
        self._overlay_cid: dict[tuple[str, str, str], str] = {}
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._wakeup: Callable[[], None] | None = None  # starts a commit (run_committer)
        self._token: trio.lowlevel.TrioToken | None = None
        self._on_commit: Callable[[], None] | None = None
        self._in_flight: trio.Event | None = None  # set when the commit in flight is done
        self.failed: set[int] = set()

    @staticmethod
    def _open(path: str, synchronous: str, *, readonly: bool = False) -> _Conn:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
        if synchronous.upper() not in ("FULL", "NORMAL", "OFF", "EXTRA"):
            raise ValueError(f"bad synchronous mode {synchronous!r}")
        conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        conn.execute("PRAGMA busy_timeout=5000")
        if readonly:
            conn.execute("PRAGMA query_only=1")
        return _Conn(conn)

    # ------------------------------------------------------------------ start-up

    def load_tasks(self) -> list[Task]:
        """Every task with its members, for the chat rules' in-memory copy."""
        with self._writer.lock:
            c = self._writer.conn
            tasks = {
                tid: Task(tid, title, orjson.loads(data))
                for tid, title, data in c.execute("SELECT task_id, title, data FROM tasks")
            }
            for tid, uid, name, role in c.execute(
                "SELECT task_id, user_id, user_name, role FROM members"
            ):
                if tid in tasks:
                    tasks[tid].members[uid] = Member(uid, name, role)
        return list(tasks.values())

    # ------------------------------------------------------------------ writes

    def submit(self, writes: Sequence[Write]) -> int:
        """Queue writes for the next group commit; the returned ticket is committed when
        ``committed >= ticket``. Messages become visible to lookups at once."""
        self._pending_ticket += 1
        ticket = self._pending_ticket
        for w in writes:
            if isinstance(w, PutMessage):
                m = w.message
                self._overlay[m["id"]] = (ticket, m)
                self._cache.pop(m["id"], None)
                if m.get("client_message_id") is not None:
                    self._overlay_cid[(m["task_id"], m["user_id"], m["client_message_id"])] = m["id"]
        self._pending.extend(writes)
        if self._wakeup is not None:
            self._wakeup()
        return ticket

    @property
    def idle(self) -> bool:
        return self.committed >= self._pending_ticket

    def commit_pending(self) -> int:
        """Commit whatever is queued, on this thread (tests, shutdown); returns the ticket."""
        writes, ticket = self._take()
        if writes:
            self._commit(writes)
        self._committed(ticket)
        return ticket

    def _take(self) -> tuple[list[Write], int]:
        writes, self._pending = self._pending, []
        return writes, self._pending_ticket

    def _commit(self, writes: list[Write]) -> None:
        with self._writer.lock:
            c = self._writer.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                for w in writes:
                    _apply(c, w)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def _committed(self, ticket: int, *, ok: bool = True) -> None:
        self.committed = max(self.committed, ticket)
        for mid in [mid for mid, (t, _m) in self._overlay.items() if t <= ticket]:
            _t, m = self._overlay.pop(mid)
            if ok:  # a row that failed to commit must not be found later
                self._remember(m)
            if m.get("client_message_id") is not None:
                self._overlay_cid.pop((m["task_id"], m["user_id"], m["client_message_id"]), None)

    async def run_committer(self, on_commit: Callable[[], None]) -> None:
        """Group commit until cancelled; ``on_commit`` runs on the trio thread after each.

        No task waits in between: ``submit`` starts a commit at once if none is in flight
        (else the writes wait for the one in flight to finish, and go together in the next),
        the commit runs in trio's thread cache (``start_thread_soon``), and its result comes
        back as a ``run_sync_soon`` callback that records it, calls ``on_commit`` right there
        and starts the next. So a message costs two hand-offs (to the worker thread and back)
        instead of waking a committer task, a scheduler pass and a done event (the benchmark's
        profile showed the trio scheduler's passes as the cost, not the disk). This task only
        holds the committer's lifetime: on cancel, a commit in flight still finishes (worker
        threads are not abandoned)."""
        self._token = trio.lowlevel.current_trio_token()
        self._on_commit = on_commit
        self._wakeup = self._start_commit
        if self._pending:  # submitted before the committer started
            self._start_commit()
        try:
            await trio.sleep_forever()
        finally:
            self._wakeup = None
            with trio.CancelScope(shield=True):
                while self._in_flight is not None:
                    await self._in_flight.wait()

    def _start_commit(self) -> None:
        """Commit what is pending in a worker thread, unless a commit is in flight (its
        finish starts the next). Called on the trio thread."""
        if self._in_flight is not None or not self._pending:
            return
        writes, ticket = self._take()
        done = self._in_flight = trio.Event()
        token = self._token
        assert token is not None

        def finish(result: outcome.Outcome[None]) -> None:
            # runs inside trio's entry-queue task: it must not raise
            try:
                ok = not isinstance(result, outcome.Error)
                if isinstance(result, outcome.Error):
                    log.error("commit of %d writes failed", len(writes), exc_info=result.error)
                    self.failed.update(range(self.committed + 1, ticket + 1))
                self._committed(ticket, ok=ok)
                if self._on_commit is not None:
                    self._on_commit()
            except Exception:  # pragma: no cover - on_commit catches its own
                log.exception("after-commit step failed")
            finally:
                self._in_flight = None
                done.set()
                if self._wakeup is not None:
                    self._start_commit()  # what arrived meanwhile, as one transaction

        trio.lowlevel.start_thread_soon(
            lambda: self._commit(writes),
            lambda result: token.run_sync_soon(finish, result),
            name="taskchat commit",
        )

    # ------------------------------------------------------------------ lookups (MessageLookup)

    def message(self, message_id: str) -> dict[str, Any] | None:
        hit = self._overlay.get(message_id)
        if hit is not None:
            return hit[1]
        cached = self._cache.get(message_id)
        if cached is not None:
            self._cache.move_to_end(message_id)
            return cached
        row = self._read_one("SELECT body FROM messages WHERE id = ?", (message_id,))
        return self._remember(orjson.loads(row[0])) if row else None

    def by_client_id(
        self, task_id: str, user_id: str, client_message_id: str
    ) -> dict[str, Any] | None:
        mid = self._overlay_cid.get((task_id, user_id, client_message_id))
        if mid is not None:
            return self.message(mid)
        row = self._read_one(
            "SELECT body FROM messages WHERE task_id = ? AND user_id = ? AND client_message_id = ?",
            (task_id, user_id, client_message_id),
        )
        return self._remember(orjson.loads(row[0])) if row else None

    def _read_one(self, sql: str, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        with self._reader.lock:
            row: tuple[Any, ...] | None = self._reader.conn.execute(sql, params).fetchone()
        return row

    def _remember(self, message: dict[str, Any]) -> dict[str, Any]:
        self._cache[message["id"]] = message
        self._cache.move_to_end(message["id"])
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return message

    # ------------------------------------------------------------------ history (committed only)

    def history(self, task_id: str, limit: int = 50, before: str | None = None) -> HistoryPage:
        """Newest first; tombstones blanked (STORE-3). Blocking: call it from a worker thread."""
        with self._history.lock:
            c = self._history.conn
            if before is not None:
                row = c.execute(
                    "SELECT seq FROM messages WHERE id = ? AND task_id = ?", (before, task_id)
                ).fetchone()
                if row is None:
                    raise HistoryError(before)
                rows = c.execute(
                    "SELECT body FROM messages WHERE task_id = ? AND seq < ? "
                    "ORDER BY seq DESC LIMIT ?",
                    (task_id, row[0], limit + 1),
                ).fetchall()
            else:
                rows = c.execute(
                    "SELECT body FROM messages WHERE task_id = ? ORDER BY seq DESC LIMIT ?",
                    (task_id, limit + 1),
                ).fetchall()
        out = []
        for (body,) in rows[:limit]:
            m = orjson.loads(body)
            if m.get("is_deleted"):
                m["message"] = ""
                m["attachments"] = []
            out.append(m)
        return HistoryPage(out, len(rows) > limit)

    def count_messages(self) -> int:
        with self._history.lock:
            return int(self._history.conn.execute("SELECT count(*) FROM messages").fetchone()[0])

    def close(self) -> None:
        """Commit what is still queued (nothing submitted is lost), then close."""
        self.commit_pending()
        for conn in {id(c): c for c in (self._writer, self._reader, self._history)}.values():
            with conn.lock:
                conn.conn.close()


def _apply(c: sqlite3.Connection, w: Write) -> None:
    if isinstance(w, PutMessage):
        m = w.message
        c.execute(
            "INSERT INTO messages (id, task_id, user_id, client_message_id, is_deleted, deleted_at,"
            " body) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
            " is_deleted = excluded.is_deleted, deleted_at = excluded.deleted_at,"
            " body = excluded.body",
            (
                m["id"],
                m["task_id"],
                m["user_id"],
                m.get("client_message_id"),
                int(bool(m.get("is_deleted"))),
                m.get("deleted_at"),
                orjson.dumps(m),
            ),
        )
    elif isinstance(w, PutTask):
        c.execute(
            "INSERT INTO tasks (task_id, title, data) VALUES (?, ?, ?) ON CONFLICT(task_id)"
            " DO UPDATE SET title = excluded.title, data = excluded.data",
            (w.task_id, w.title, orjson.dumps(w.data).decode()),
        )
    elif isinstance(w, PutMember):
        c.execute(
            "INSERT INTO members (task_id, user_id, user_name, role) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(task_id, user_id) DO UPDATE SET user_name = excluded.user_name,"
            " role = excluded.role",
            (w.task_id, w.user_id, w.user_name, w.role),
        )
    elif isinstance(w, DeleteMember):
        c.execute(
            "DELETE FROM members WHERE task_id = ? AND user_id = ?", (w.task_id, w.user_id)
        )
    else:  # pragma: no cover - the Write union is closed
        raise TypeError(f"unknown write {w!r}")
