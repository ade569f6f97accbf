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

One request's writes never fail another's (ISO-1): inside the group commit each ticket's writes
run under their own SAVEPOINT, so a write the store cannot keep (a value it cannot encode, a
constraint it breaks, an I/O error on its pages) is rolled back alone and its ticket marked
failed; the rest of the batch commits. A failure that ends the whole transaction (SQLite rolls
it back by itself on some I/O errors) restarts the batch without the ticket that caused it.

The store also refuses to acknowledge onto a file that is gone (D63): just before each group
commit's COMMIT it compares the inodes of the file and its -wal with the ones it opened, and
when one was deleted or replaced it rolls back and fails every write from then on (reads keep
using the open file), and says why in ``problem``.
"""

from __future__ import annotations

import logging
import os
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


class StoreUnavailable(Exception):
    """The database file is no longer the one the server opened: nothing more is acknowledged."""


class _Restart(Exception):
    """A ticket's write ended the whole transaction: run the batch again without it."""

    def __init__(self, ticket: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.ticket = ticket
        self.cause = cause


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
        self._pending: list[tuple[int, Sequence[Write]]] = []
        self._pending_ticket = 0  # the ticket of the newest submitted write
        self.committed = 0  # every ticket up to this one is on disk
        self._overlay: dict[str, tuple[int, dict[str, Any]]] = {}  # id -> (ticket, message)
        self._overlay_cid: dict[tuple[str, str, str], str] = {}
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._wakeup: Callable[[], None] | None = None  # starts a commit (run_committer)
        self._token: trio.lowlevel.TrioToken | None = None
        self._on_commit: Callable[[], None] | None = None
        self._in_flight: trio.Event | None = None  # set when the commit in flight is done
        self._failed: dict[int, BaseException] = {}  # ticket -> why its writes were not kept
        self.problem: str | None = None  # set once the file is gone: no write is kept after it
        # the inode of each file the store writes to; the -wal is learned when it first exists
        self._identity: dict[str, tuple[int, int] | None] | None = (
            None if memory else {path: _file_identity(path), path + "-wal": None}
        )

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
        self._pending.append((ticket, writes))
        if self._wakeup is not None:
            self._wakeup()
        return ticket

    @property
    def idle(self) -> bool:
        return self.committed >= self._pending_ticket

    def commit_pending(self) -> int:
        """Commit whatever is queued, on this thread (tests, shutdown); returns the ticket."""
        batch, ticket = self._take()
        failed: dict[int, BaseException] = {}
        if batch:
            try:
                failed = self._commit(batch)
            except Exception as exc:
                failed = {t: exc for t, _w in batch}
        self._committed(ticket, failed)
        return ticket

    def failure(self, ticket: int) -> BaseException | None:
        """Why ticket's writes were not kept (None: they were); asked once, when answering."""
        return self._failed.pop(ticket, None) if ticket else None

    def _take(self) -> tuple[list[tuple[int, Sequence[Write]]], int]:
        batch, self._pending = self._pending, []
        return batch, self._pending_ticket

    def _commit(self, batch: list[tuple[int, Sequence[Write]]]) -> dict[int, BaseException]:
        """One transaction for the batch, one SAVEPOINT per ticket; the tickets that failed.

        Raises only when nothing was kept: the COMMIT failed, or the file is gone."""
        failed: dict[int, BaseException] = {}
        with self._writer.lock:
            c = self._writer.conn
            if self.problem is not None:  # known lost: not even a transaction
                raise StoreUnavailable(self.problem)
            while True:
                c.execute("BEGIN IMMEDIATE")
                try:
                    for ticket, writes in batch:
                        if ticket not in failed:
                            _apply_alone(c, ticket, writes, failed)
                    # the file may have gone since the last commit: then roll back, so nothing
                    # lands in a deleted inode that readers (still holding it) would show
                    self._check_file()
                    c.execute("COMMIT")
                except _Restart as restart:
                    failed[restart.ticket] = restart.cause
                    if c.in_transaction:
                        c.execute("ROLLBACK")
                    continue
                except BaseException:
                    if c.in_transaction:
                        c.execute("ROLLBACK")
                    raise
                return failed

    def _check_file(self) -> None:
        """Raise StoreUnavailable when the database file (or its -wal) is not the one the
        store opened: two ``stat`` calls per group commit, made just before its COMMIT."""
        if self._identity is None:
            return
        if self.problem is None:
            self.problem = self._lost_file()
            if self.problem is not None:
                log.error("event=store_unavailable reason=%r", self.problem)
        if self.problem is not None:
            raise StoreUnavailable(self.problem)

    def _lost_file(self) -> str | None:
        assert self._identity is not None
        for name, known in self._identity.items():
            now = _file_identity(name)
            if known is None:
                self._identity[name] = now  # the -wal, seen for the first time
            elif now != known:
                what = "deleted" if now is None else "replaced by another file"
                return (f"the database file {name} was {what} while the server ran;"
                        " writes are no longer acknowledged")
        return None

    def _committed(self, ticket: int, failed: dict[int, BaseException] | None = None) -> None:
        failed = failed or {}
        self._failed.update(failed)
        self.committed = max(self.committed, ticket)
        for mid in [mid for mid, (t, _m) in self._overlay.items() if t <= ticket]:
            t, m = self._overlay.pop(mid)
            if t not in failed:  # a row that failed to commit must not be found later
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
        batch, ticket = self._take()
        done = self._in_flight = trio.Event()
        token = self._token
        assert token is not None

        def finish(result: outcome.Outcome[dict[int, BaseException]]) -> None:
            # runs inside trio's entry-queue task: it must not raise
            try:
                if isinstance(result, outcome.Error):  # nothing of the batch was kept
                    if not isinstance(result.error, StoreUnavailable):
                        log.error("commit of %d requests failed", len(batch),
                                  exc_info=result.error)
                    failed = {t: result.error for t, _w in batch}
                else:  # the batch was kept but for the requests that failed alone
                    assert isinstance(result, outcome.Value)
                    failed = result.value
                    for t, exc in failed.items():
                        log.error("event=write_failed ticket=%d error=%r", t, exc)
                self._committed(ticket, failed)
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
            lambda: self._commit(batch),
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


def write_failure_message(failure: BaseException) -> str:
    """What a client is told when its writes were not kept: the store's own reason when the
    database is gone (D63), nothing of the internals otherwise."""
    if isinstance(failure, StoreUnavailable):
        return str(failure)
    return "the server could not store this request"


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _apply_alone(c: sqlite3.Connection, ticket: int, writes: Sequence[Write],
                 failed: dict[int, BaseException]) -> None:
    """One request's writes under a SAVEPOINT: kept together, or rolled back together alone."""
    c.execute("SAVEPOINT request")
    try:
        for w in writes:
            _apply(c, w)
    except Exception as exc:
        if not c.in_transaction:  # SQLite ended the transaction: the batch must start over
            raise _Restart(ticket, exc) from exc
        try:
            c.execute("ROLLBACK TO request")
        except sqlite3.Error:
            raise _Restart(ticket, exc) from exc
        failed[ticket] = exc
    c.execute("RELEASE request")


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
