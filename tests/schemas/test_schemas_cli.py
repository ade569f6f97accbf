"""`taskchat schemas …` as a user runs it: exit codes, what is printed, where."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from schema_corpus import SEND
from taskchat.schemas import events

from taskchat import schemas_cmd, spec
from taskchat.cli import main


def _write(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def test_valid_payload_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = _write(tmp_path, "send.json", json.dumps(SEND))
    assert main(["schemas", "validate", "send_message", file]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "valid against client-to-server/send_message.json" in err


def test_invalid_payload_exits_1_and_prints_each_violation_at_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = {**SEND, "attachments": [{"name": "x", "url": "javascript:alert(1)"}],
               "messageID": "m"}
    file = _write(tmp_path, "bad.json", json.dumps(payload))
    assert main(["schemas", "validate", "send_message", file]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("$.attachments[0].url: ") for line in lines)
    assert any(line.startswith("$: ") and "messageID" in line for line in lines)
    assert len(lines) == 2


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('"task-id"'))
    assert main(["schemas", "validate", "join_task", "-"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO('{"taskId": "task-id"}'))
    assert main(["schemas", "validate", "join_task", "-"]) == 1
    assert capsys.readouterr().out.startswith("$: ")


@pytest.mark.parametrize(("target", "payload", "code"), [
    ("send_message.ack", {"ok": False, "error": {"code": "FORBIDDEN", "message": "no"}}, 0),
    ("send_message.ack", {"ok": True}, 1),
    ("connect.auth", {"token": "a.b.c"}, 0),
    ("connect.error", {"message": "expired", "data": {"code": "AUTH_EXPIRED"}}, 0),
    ("connect.error", {"message": "expired", "data": {"code": "FORBIDDEN"}}, 1),
    ("defs/role.json", "viewer", 0),
])
def test_acks_connect_and_schema_files_are_targets(
    target: str, payload: object, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(payload)))
    assert main(["schemas", "validate", target, "-"]) == code


@pytest.mark.parametrize(("target", "says"), [
    ("sned_message", "unknown event 'sned_message'"),
    ("new_message.ack", "server-to-client event: it has no ack"),
    ("defs/nope.json", "no schema file"),
])
def test_unknown_target_exits_2(
    target: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = _write(tmp_path, "p.json", "{}")
    assert main(["schemas", "validate", target, file]) == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize(("content", "says"), [("{not json", "not JSON"), (None, "cannot read")])
def test_unusable_file_exits_2(
    content: str | None, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = _write(tmp_path, "p.json", content) if content else str(tmp_path / "missing.json")
    assert main(["schemas", "validate", "send_message", file]) == 2
    assert says in capsys.readouterr().err


def test_jsonl_capture_reports_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [json.dumps(SEND), "", json.dumps({**SEND, "message": "   "}), json.dumps(SEND)]
    file = _write(tmp_path, "capture.jsonl", "\n".join(lines) + "\n")
    assert main(["schemas", "validate", "--jsonl", "send_message", file]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1
    assert out.startswith("line 3: $.message: ")
    assert "1 of 3 payloads invalid" in err


def test_jsonl_with_a_broken_line_exits_2(tmp_path: Path) -> None:
    file = _write(tmp_path, "capture.jsonl", json.dumps(SEND) + "\n{oops\n")
    assert main(["schemas", "validate", "--jsonl", "send_message", file]) == 2


def test_validate_help_documents_the_ack_and_connect_forms(
    capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["schemas", "validate", "--help"])
    out = capsys.readouterr().out
    assert "send_message.ack" in out and "connect.auth" in out and "connect.error" in out


def test_list_shows_every_event(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemas", "list", "--json"]) == 0
    rows = {r["event"]: r for r in json.loads(capsys.readouterr().out)}
    for name, e in events().items():
        assert rows[name]["direction"] == e.direction
        assert rows[name]["payload"] == e.payload
        assert rows[name]["ack"] == (e.ack or "-")
        assert rows[name]["recipients"] == (e.recipients or "-")
    assert main(["schemas", "list"]) == 0
    table = capsys.readouterr().out
    assert all(name in table for name in events())


def test_lint_exit_code_follows_its_findings(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["schemas", "lint"])
    out, _err = capsys.readouterr()
    assert code == (1 if out else 0)


@pytest.mark.parametrize("kind", ["spec", "asyncapi", "openapi"])
def test_generated_docs_are_up_to_date(kind: str) -> None:
    assert main(["schemas", kind, "--check"]) == 0


def test_check_of_a_stale_doc_exits_1_with_a_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = spec.render().replace("| MUST |", "| SHOULD |", 1)
    (tmp_path / "docs").mkdir()
    (tmp_path / spec.OUTPUT).write_text(stale, encoding="utf-8")
    monkeypatch.setattr(schemas_cmd, "repo_root", lambda: tmp_path)
    assert main(["schemas", "spec", "--check"]) == 1
    out, err = capsys.readouterr()
    assert "-| <a id=" in out and "| SHOULD |" in out and "+| <a id=" in out
    assert "--output docs/protocol.md" in err


def test_output_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    assert main(["schemas", "openapi", "--output", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8"))["openapi"].startswith("3.1")


def test_importing_the_command_loads_no_validator() -> None:
    # `taskchat` imports every part to build its help; this one must not slow that down
    code = "import sys, taskchat.schemas_cmd; print('jsonschema' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
