"""The conformance HTML reads at a glance: Markdown rendered, repeats collapsed, one transcript
open, and the facts that identify the run (date, target, toolkit, revision)."""

from __future__ import annotations

import re
from typing import Any

from taskchat.conformance.report_files import collapse, frames_text, html_report, md
from taskchat.conformance.results import CheckResult, Finding, RunResult, summarize


def _frame(t: float, data: str, socket: str = "member#1", direction: str = "received") -> dict[str, Any]:
    return {"t": t, "socket": socket, "direction": direction, "data": data}


def _failed(name: str, rid: str, frames: list[dict[str, Any]]) -> CheckResult:
    return CheckResult(name=name, area=rid.split("-")[0], level="MUST", requirements=[rid],
                       doc="Sends ``join_task`` twice.", status="fail",
                       findings=[Finding(rid, "one `ack`", "two acks", name)], frames=frames)


def _run(checks: list[CheckResult]) -> RunResult:
    return RunResult(url="http://127.0.0.1:1", started="2026-12-01T10:47:27+00:00", duration=1.0,
                     checks=checks, requirements=summarize(checks))


def test_identical_consecutive_frames_are_one_line_with_their_count() -> None:
    retries = [_frame(0.1 * i, '42["join_task","t"]', direction="sent") for i in range(15)]
    frames = [_frame(0.0, "0{}"), *retries, _frame(2.0, "0{}"), _frame(2.1, "0{}")]
    runs = collapse(frames)
    assert [r.count for r in runs] == [1, 15, 2]
    text = frames_text(frames)
    assert len(text.splitlines()) == 3
    assert "(15 times, the last at 1.400s)" in text
    # a different socket or direction is not a repeat
    assert len(collapse([_frame(0, "x"), _frame(0, "x", socket="other")])) == 2
    assert len(collapse([_frame(0, "x"), _frame(0, "x", direction="sent")])) == 2


def test_markdown_and_rst_code_render_and_html_is_escaped() -> None:
    assert md("answers `GET /x` with ``sid``") == "answers <code>GET /x</code> with <code>sid</code>"
    assert "<script>" not in md("a <script>alert(1)</script> b")


def test_the_first_failure_is_open_and_the_rest_are_folded() -> None:
    checks = [_failed(f"c{i}", rid, [_frame(0, f"frame of c{i}")])
              for i, rid in enumerate(["TRANS-10", "MSG-1", "ROOM-1"])]
    page = html_report(_run(checks))
    assert page.count("<details open>") == 1
    assert page.count("<details>") == 2
    assert page.index("<details open>") < page.index("frame of c0") < page.index("<details>")
    # the requirement texts are rendered, not shown as raw Markdown
    assert not re.search(r"<td>[^<]*`", page)
    assert "<code>join_task</code>" in page


def test_the_page_names_its_date_target_toolkit_and_revision() -> None:
    page = html_report(_run([_failed("c", "TRANS-10", [])]))
    assert "2026-12-01 10:47:27 UTC" in page
    assert "http://127.0.0.1:1" in page
    assert re.search(r"<b>Toolkit</b> taskchat \d", page)
    assert re.search(r"<b>Revision</b> [0-9a-f]{12}", page)  # the tests run in the checkout
    assert "FAIL</span> <a href='#TRANS-10'>" in page  # the broken requirement, up top
