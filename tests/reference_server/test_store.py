"""The SQLite store: what is kept, what a lookup sees before the commit, history pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from taskchat.reference_server.chat import DeleteMember, PutMember, PutMessage, PutTask
from taskchat.reference_server.store import HistoryError, Store


def msg(mid: str, task: str = "t1", user: str = "u1", cid: str | None = None, **kw: Any) -> dict[str, Any]:
    return {
        "id": mid, "task_id": task, "user_id": user, "first_name": "U", "last_name": "",
        "avatar_url": None, "message": f"text {mid}", "attachments": [], "reply_to": None,
        "client_message_id": cid, "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z", "is_edited": False, "is_deleted": False,
        "deleted_at": None, **kw,
    }


def test_tasks_and_members_survive_reopening(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite3")
    s = Store(db)
    s.submit([PutTask("t1", "One", {"status": "open"}), PutMember("t1", "u1", "Ann", "owner"),
              PutMember("t1", "u2", "Bob", "member")])
    s.submit([PutMember("t1", "u2", "Bob", "viewer"), DeleteMember("t1", "u1")])
    s.close()
    (task,) = Store(db).load_tasks()
    assert (task.task_id, task.title, task.data) == ("t1", "One", {"status": "open"})
    assert {u: m.role for u, m in task.members.items()} == {"u2": "viewer"}


def test_a_submitted_message_is_visible_before_its_commit_and_kept_after(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite3")
    s = Store(db)
    ticket = s.submit([PutMessage(msg("m1", cid="c1"))])
    assert s.committed < ticket and not s.idle
    assert s.message("m1")["message"] == "text m1"  # type: ignore[index]
    assert s.by_client_id("t1", "u1", "c1")["id"] == "m1"  # type: ignore[index]
    assert s.by_client_id("t1", "u2", "c1") is None
    assert s.count_messages() == 0  # history sees committed rows only
    s.commit_pending()
    assert s.committed >= ticket and s.count_messages() == 1
    s.close()
    again = Store(db)
    assert again.message("m1")["id"] == "m1"  # type: ignore[index]
    assert again.by_client_id("t1", "u1", "c1")["id"] == "m1"  # type: ignore[index]
    assert again.message("nope") is None


def test_history_pages_newest_first_with_tombstones_blanked() -> None:
    s = Store(":memory:")
    s.submit([PutMessage(msg(f"m{i}")) for i in range(1, 8)])
    s.submit([PutMessage(msg("x1", task="t2"))])
    s.submit([PutMessage(msg("m3", is_deleted=True, deleted_at="2026-01-01T00:00:01.000Z",
                             attachments=[{"name": "a", "url": "https://x/a"}]))])
    s.commit_pending()
    page = s.history("t1", limit=3)
    assert [m["id"] for m in page.messages] == ["m7", "m6", "m5"] and page.has_more
    page = s.history("t1", limit=3, before="m5")
    assert [m["id"] for m in page.messages] == ["m4", "m3", "m2"] and page.has_more
    tomb = page.messages[1]
    assert tomb["is_deleted"] is True and tomb["message"] == "" and tomb["attachments"] == []
    page = s.history("t1", limit=3, before="m2")
    assert [m["id"] for m in page.messages] == ["m1"] and not page.has_more
    with pytest.raises(HistoryError):
        s.history("t1", before="x1")  # a message of another task


def test_group_commit_batches_what_arrives_while_a_commit_is_in_flight(tmp_path: Path) -> None:
    s = Store(str(tmp_path / "g.sqlite3"))
    commits: list[int] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.run_committer, lambda: commits.append(s.committed))
            await trio.sleep(0)
            tickets = [s.submit([PutMessage(msg(f"m{i}", cid=f"c{i}"))]) for i in range(50)]
            with trio.fail_after(10):
                while s.committed < tickets[-1]:
                    await trio.sleep(0.005)
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert s.count_messages() == 50
    assert len(commits) < 50  # 50 submits in one burst: far fewer transactions
    s.close()


def test_a_failed_commit_is_reported_and_its_rows_are_not_found(tmp_path: Path) -> None:
    s = Store(str(tmp_path / "f.sqlite3"))
    s.submit([PutMessage(msg("m1", cid="c1"))])
    s.commit_pending()
    ticket = s.submit([PutMessage(msg("m2", cid="c1"))])  # the same client id: UNIQUE fails

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.run_committer, lambda: None)
            with trio.fail_after(10):
                while s.committed < ticket:
                    await trio.sleep(0.005)
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert isinstance(s.failure(ticket), Exception) and s.failure(ticket) is None  # told once
    assert s.message("m2") is None and s.by_client_id("t1", "u1", "c1")["id"] == "m1"  # type: ignore[index]
    s.close()
