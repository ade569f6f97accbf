"""``taskchat gate`` end to end: exit codes, the JSON and JUnit reports, --allow, versions, and
git revisions."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from taskchat.schemas import PROTOCOL_VERSION

from taskchat.cli import main
from taskchat.gate.rules import Bump
from taskchat.gate.version import next_version

Edit = Callable[[Path, Callable[[Any], None]], None]
Copies = Callable[[], tuple[Path, Path]]


def gate(
    capsys: pytest.CaptureFixture[str], base: Path | str, head: Path | str, *extra: str
) -> tuple[int, Any, str]:
    """Run the gate with --json: exit code, the report (None when it could not run), stderr."""
    code = main(
        [
            "gate",
            "--base",
            str(base),
            "--head",
            str(head),
            "--json",
            "--no-report",
            "--budget",
            "5",
            *extra,
        ]
    )
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


def _findings(report: Any, change: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["change"] == change]


def test_unchanged_schemas_pass(schema_copies: Copies, capsys: pytest.CaptureFixture[str]) -> None:
    base, head = schema_copies()
    code, report, _ = gate(capsys, base, head)
    assert code == 0
    assert report["breaking"] == 0 and report["findings"] == []
    assert report["requiredBump"] == "none"


def test_required_property_added_to_a_client_payload_fails_with_a_counterexample(
    schema_copies: Copies, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = schema_copies()

    def require_priority(d: Any) -> None:
        d["properties"]["priority"] = {"enum": ["low", "high"]}
        d["required"].append("priority")

    edit(head / "client-to-server/send_message.json", require_priority)
    code, report, _ = gate(capsys, base, head)
    assert code == 1
    [f] = [
        f for f in _findings(report, "required property added") if f["subject"] == "send_message"
    ]
    assert f["breaking"] and f["direction"] == "client-to-server"
    ce = f["counterexample"]
    assert (ce["acceptedBy"], ce["refusedBy"]) == ("base", "head")
    assert "priority" not in ce["instance"] and "taskId" in ce["instance"]
    assert "priority" in ce["refusal"]
    assert report["requiredBump"] == "major" and report["requiredVersion"] == "2.0.0"


def test_removed_event_fails(
    schema_copies: Copies, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = schema_copies()
    edit(head / "index.json", lambda d: d["events"].pop("typing_stop"))
    code, report, _ = gate(capsys, base, head)
    assert code == 1
    [f] = _findings(report, "event removed")
    assert f["subject"] == "typing_stop" and f["breaking"]


def test_optional_property_added_to_a_closed_client_payload_passes(
    schema_copies: Copies, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = schema_copies()
    edit(
        head / "client-to-server/typing_start.json",
        lambda d: d["properties"].update(draft={"type": "boolean"}),
    )
    code, report, _ = gate(capsys, base, head)
    assert code == 0
    [f] = _findings(report, "optional property added")
    assert f["subject"] == "typing_start" and f["path"] == "$.draft" and not f["breaking"]
    assert report["requiredBump"] == "minor"


def test_narrowed_server_enum_passes_and_widened_one_fails(
    schema_copies: Copies, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = schema_copies()
    action = head / "server-to-client/member_changed.json"
    edit(action, lambda d: d["properties"]["action"]["enum"].remove("updated"))
    code, report, _ = gate(capsys, base, head)
    assert code == 0 and _findings(report, "enum narrowed")

    edit(action, lambda d: d["properties"]["action"]["enum"].extend(["updated", "transferred"]))
    code, report, _ = gate(capsys, base, head)
    assert code == 1
    [f] = _findings(report, "enum widened")
    assert f["subject"] == "member_changed" and f["path"] == "$.action"
    ce = f["counterexample"]
    assert ce["instance"]["action"] == "transferred"
    assert (ce["acceptedBy"], ce["refusedBy"]) == ("head", "base")


def test_table_shows_the_counterexample(
    schema_copies: Copies, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = schema_copies()
    edit(
        head / "server-to-client/member_changed.json",
        lambda d: d["properties"]["action"]["enum"].append("transferred"),
    )
    code = main(["gate", "--base", str(base), "--head", str(head), "--no-report", "--budget", "5"])
    out = capsys.readouterr().out
    assert code == 1
    assert "BREAKING" in out and "member_changed" in out and "enum widened" in out
    assert 'counterexample: {"taskId"' in out and '"action":"transferred"' in out
    assert "major bump: at least 2.0.0" in out


def test_allow_accepts_a_named_break_and_records_why(
    schema_copies: Copies, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = schema_copies()
    edit(head / "index.json", lambda d: d["events"].pop("typing_stop"))
    code, report, _ = gate(
        capsys,
        base,
        head,
        "--allow",
        "typing_stop:event removed",
        "--reason",
        "no deployed client sends it",
    )
    assert code == 0
    [f] = _findings(report, "event removed")
    assert f["breaking"] and f["allowed"] and f["reason"] == "no deployed client sends it"
    assert report["allowances"] == [
        {
            "allow": "typing_stop:event removed",
            "reason": "no deployed client sends it",
            "matched": 1,
        }
    ]
    assert report["requiredBump"] == "minor"


def test_allow_without_a_reason_cannot_run(
    schema_copies: Copies, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = schema_copies()
    code, _, err = gate(capsys, base, head, "--allow", "typing_stop:event removed")
    assert code == 2
    assert "needs a --reason" in err


def test_check_version_fails_when_the_head_says_too_little(
    schema_copies: Copies, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = schema_copies()
    edit(
        head / "client-to-server/typing_start.json",
        lambda d: d["properties"].update(draft={"type": "boolean"}),
    )
    code, report, _ = gate(capsys, base, head, "--check-version")
    assert code == 1 and report["breaking"] == 0
    minor = next_version(PROTOCOL_VERSION, Bump.MINOR)  # from the protocol's own version
    assert report["requiredVersion"] == minor and report["versionOk"] is False

    edit(head / "index.json", lambda d: d.update(version=minor))
    code, report, _ = gate(capsys, base, head, "--check-version")
    assert code == 0 and report["versionOk"] is True


def test_reports_are_written(
    schema_copies: Copies,
    edit: Edit,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, head = schema_copies()
    edit(head / "index.json", lambda d: d["events"]["user_left"].update(recipients="room"))
    monkeypatch.chdir(tmp_path)
    code = main(["gate", "--base", str(base), "--head", str(head), "--budget", "5"])
    assert code == 1
    [directory] = (tmp_path / "reports").glob("gate-*")
    report = json.loads((directory / "gate.json").read_text())
    assert report["exitCode"] == 1 and _findings(report, "recipients changed")
    junit = (directory / "junit.xml").read_text()
    suite = ElementTree.fromstring(junit)
    assert suite.get("failures") == "1"
    assert 'name="user_left"' in junit and "<failure" in junit and "recipients changed" in junit
    assert 'name="send_message"' in junit  # every compared event is a test case
    assert "recipients changed" in (directory / "table.txt").read_text()


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "PATH": "/usr/bin:/bin",
            "HOME": str(repo),
        },
    )


def test_git_revisions(
    schema_copies: Copies, edit: Edit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = schema_copies()
    repo = tmp_path / "repo"
    (repo / "schemas").parent.mkdir()
    base.rename(repo / "schemas")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "schemas")
    _git(repo, "commit", "-q", "-m", "v1")
    edit(
        repo / "schemas/client-to-server/send_message.json",
        lambda d: d["properties"]["attachments"].update(maxItems=3),
    )
    _git(repo, "commit", "-q", "-am", "fewer attachments")

    code, report, _ = gate(capsys, "HEAD~1", "HEAD", "--repo", str(repo))
    assert code == 1
    [f] = [f for f in _findings(report, "maxItems lowered") if f["subject"] == "send_message"]
    assert len(f["counterexample"]["instance"]["attachments"]) > 3
    assert report["base"]["source"].startswith("HEAD~1")

    # from a subdirectory of the checkout, revisions still mean the top-level schemas/
    code, report, _ = gate(capsys, "HEAD~1", "HEAD", "--repo", str(repo / "schemas" / "defs"))
    assert code == 1 and _findings(report, "maxItems lowered")

    code, report, _ = gate(capsys, "HEAD", str(repo / "schemas"), "--repo", str(repo))
    assert code == 0 and report["findings"] == []

    code, _, err = gate(capsys, "no-such-rev", "HEAD", "--repo", str(repo))
    assert code == 2
    assert "no-such-rev" in err


def test_unreadable_schemas_cannot_run(
    schema_copies: Copies, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = schema_copies()
    (head / "defs/role.json").write_text("{ not json")
    code, _, err = gate(capsys, base, head)
    assert code == 2
    assert "defs/role.json is not valid JSON" in err


def test_unresolvable_reference_cannot_run(
    schema_copies: Copies, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = schema_copies()
    edit(
        head / "client-to-server/typing_stop.json",
        lambda d: d["properties"]["taskId"].update({"$ref": "../defs/nowhere.json"}),
    )
    code, _, err = gate(capsys, base, head)
    assert code == 2
    assert "nowhere.json" in err


def test_check_version_needs_a_semantic_version(
    schema_copies: Copies, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = schema_copies()
    edit(head / "index.json", lambda d: d.update(version="next"))
    code, report, _ = gate(capsys, base, head)
    assert code == 0 and report["requiredBump"] == "patch"
    code, _, err = gate(capsys, base, head, "--check-version")
    assert code == 2 and "'next'" in err


def test_allow_patterns_take_wildcards_and_unused_ones_are_noted(
    schema_copies: Copies, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = schema_copies()
    edit(head / "defs/event-error-code.json", lambda d: d["oneOf"].append({"const": "TOO_LATE"}))
    code = main(
        [
            "gate",
            "--base",
            str(base),
            "--head",
            str(head),
            "--no-report",
            "--budget",
            "5",
            "--allow",
            "*:enum widened",
            "--allow",
            "errorCodes.*:error code added",
            "--allow",
            "user_left:recipients changed",
            "--reason",
            "clients default unknown codes",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "BREAKING" not in out and "allowed: clients default unknown codes" in out
    assert "note: --allow user_left:recipients changed matched no breaking change" in out


@pytest.mark.parametrize(
    ("rel", "change", "message"),
    [
        ("defs/display-name.json", lambda d: d.update(pattern="(unclosed"), "does not compile"),
        (
            "index.json",
            lambda d: d["events"]["error"].update(payload="server-to-client/gone.json"),
            "gone.json, which is not in the tree",
        ),
        (
            "index.json",
            lambda d: d["events"]["error"].update(direction="sideways"),
            "unknown direction 'sideways'",
        ),
    ],
    ids=["bad-pattern", "missing-payload-file", "unknown-direction"],
)
def test_broken_head_cannot_run(
    rel: str,
    change: Callable[[Any], None],
    message: str,
    schema_copies: Copies,
    edit: Edit,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, head = schema_copies()
    edit(head / rel, change)
    code, report, err = gate(capsys, base, head)
    assert code == 2 and report is None
    assert message in err
