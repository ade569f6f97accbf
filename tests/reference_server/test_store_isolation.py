"""ISO-1 as a property of the group commit: in any batch, a request whose writes the store
cannot keep fails alone, with its own error; every other request is committed and told so."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from taskchat.reference_server import store as store_module
from taskchat.reference_server.chat import PutMember, PutMessage, PutTask, Write
from taskchat.reference_server.store import Store

# what poisons a request, and the error its ticket must carry
POISONS: dict[str, type[BaseException] | tuple[type[BaseException], ...]] = {
    # a lone surrogate that orjson (the body) or sqlite3 (a column) refuses to encode
    "unencodable": (TypeError, UnicodeEncodeError),
    "constraint": sqlite3.IntegrityError,  # a clientMessageId already taken by another row
    "io_error": sqlite3.OperationalError,  # an I/O error on this write's pages
    "txn_lost": sqlite3.OperationalError,  # an error after which SQLite rolled everything back
}


def message(mid: str, cid: str | None = None, text: str = "hello") -> dict[str, Any]:
    return {"id": mid, "task_id": "t1", "user_id": "u1", "message": text,
            "client_message_id": cid, "is_deleted": False, "deleted_at": None}


@pytest.fixture(autouse=True, scope="module")
def injected_faults() -> Iterator[None]:
    """Writes whose id names a fault fail as a disk would make them fail."""
    apply = store_module._apply

    def faulty(c: sqlite3.Connection, w: Write) -> None:
        mid = w.message["id"] if isinstance(w, PutMessage) else ""
        if str(mid).startswith("io_error"):
            raise sqlite3.OperationalError("disk I/O error")
        if str(mid).startswith("txn_lost"):
            c.execute("ROLLBACK")  # what SQLite does by itself on SQLITE_FULL, SQLITE_IOERR...
            raise sqlite3.OperationalError("database or disk is full")
        apply(c, w)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store_module, "_apply", faulty)
        yield


def request(n: int, kind: str, size: int) -> list[Write]:
    """A request of ``size`` writes; a poisoned one has its poison in the last write, so the
    writes before it must be rolled back with it."""
    writes: list[Write] = [PutMessage(message(f"clean-{n}-{i}", cid=f"c-{n}-{i}"))
                           for i in range(size - 1)]
    writes.append(PutMember("t1", f"user-{n}", f"User {n}", "member"))
    if kind == "unencodable":
        writes[-1] = PutMessage(message(f"x-{n}", text="bad \ud800 text"))
    elif kind == "constraint":
        writes[-1] = PutMessage(message(f"dup-{n}", cid="taken"))
    elif kind in ("io_error", "txn_lost"):
        writes[-1] = PutMessage(message(f"{kind}-{n}"))
    return writes


batches = st.lists(
    st.tuples(st.sampled_from(["clean", "clean", *POISONS]), st.integers(1, 3)),
    min_size=1, max_size=10,
)


@settings(max_examples=40, deadline=None)
@given(batches)
def test_a_poisoned_write_fails_alone_and_every_clean_one_is_kept(
    batch: list[tuple[str, int]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "p.sqlite3")
        s = Store(db, synchronous="OFF")  # isolation, not durability, is tested here
        s.submit([PutTask("t1", "One", {}), PutMessage(message("owner-of-taken", cid="taken"))])
        s.commit_pending()
        tickets = [(s.submit(request(n, kind, size)), kind, request(n, kind, size))
                   for n, (kind, size) in enumerate(batch)]
        s.commit_pending()  # one transaction for the whole batch
        s.close()
        kept = Store(db, synchronous="OFF")
        try:
            members = {uid for t in kept.load_tasks() for uid in t.members}
            for ticket, kind, writes in tickets:
                failure = s.failure(ticket)
                stored = [
                    (w.user_id in members) if isinstance(w, PutMember)
                    else kept.message(str(w.message["id"])) is not None
                    for w in writes
                ]
                if kind == "clean":
                    assert failure is None
                    assert all(stored), (kind, writes)  # committed, none lost
                else:
                    assert isinstance(failure, POISONS[kind]), (kind, failure)
                    assert not any(stored), (kind, writes)  # all of its writes, or none
            n_clean = sum(len(w) - 1 for _t, k, w in tickets if k == "clean")
            assert kept.count_messages() == 1 + n_clean
        finally:
            kept.close()
