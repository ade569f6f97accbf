"""`taskchat check` exit statuses: 0 conformant, 1 a MUST fails, 2 cannot run."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from conformance_servers import faulty_server

from taskchat.cli import main


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    code = main(["check", "--url", url, "--jwt-secret", "s" * 32,
                 "--report-dir", str(tmp_path)])
    assert code == 2
    assert "unreachable" in capsys.readouterr().err


def test_a_server_that_is_not_socketio_is_exit_2(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code = main(["check", "--url", f"http://127.0.0.1:{server.server_address[1]}",
                     "--jwt-secret", "s" * 32, "--report-dir", str(tmp_path)])
    finally:
        server.shutdown()
        server.server_close()
    assert code == 2
    assert "does not speak Engine.IO" in capsys.readouterr().err


@pytest.mark.parametrize("content,why", [
    ("url = [not toml", "not valid TOML"),
    ('url = "http://127.0.0.1:1"\n', "no token for role"),
    ('url = "ftp://x"\njwt_secret = "s"\n', "url must be"),
    ('url = "http://127.0.0.1:1"\njwt_secret = "s"\n[timeouts]\nevent = -1\n', "positive"),
    ('url = "http://127.0.0.1:1"\njwt_secret = "s"\nadapter = "nonsense"\n', "adapter"),
])
def test_bad_config_is_exit_2(content: str, why: str, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    assert main(["check", "--config", str(config), "--report-dir", str(tmp_path)]) == 2
    assert why in capsys.readouterr().err


def test_unknown_area_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--url", "http://127.0.0.1:1", "--jwt-secret", "s",
                 "--only", "NOPE"]) == 2
    assert "unknown area" in capsys.readouterr().err


def test_broken_must_is_exit_1_and_reports_are_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    with faulty_server("http_health_down") as srv:
        monkeypatch.setenv("TASKCHAT_JWT_SECRET", srv.jwt_secret)  # the secret from the env
        code = main(["check", "--url", srv.url, "--requirement", "HTTP-1", "--seed", "4711",
                     "-x", "--report-dir", str(tmp_path)])
    assert code == 1
    out = capsys.readouterr().out
    # the failure says how to replay it: same target, same seed, the secret by reference
    assert (f'rerun: taskchat check --url {srv.url} --jwt-secret "$TASKCHAT_JWT_SECRET" '
            "--requirement HTTP-1 --seed 4711") in out
    assert srv.jwt_secret not in out
    html = (tmp_path / "report.html").read_text()
    assert "HTTP-1" in html and "GET /healthz: 200" in html and "--seed 4711" in html
    assert (tmp_path / "junit.xml").read_text().count("<failure") == 1


def test_conformant_selection_is_exit_0(tmp_path: Path) -> None:
    with faulty_server("http_health_down") as srv:  # broken only on /healthz
        code = main(["check", "--url", srv.url, "--jwt-secret", srv.jwt_secret,
                     "--only", "ROOM", "--report-dir", str(tmp_path)])
    assert code == 0


def _pytest_conformance(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    plugin = [] if any(e.name == "taskchat_conformance"
                       for e in entry_points(group="pytest11")) else [
        "-p", "taskchat.conformance.pytest_plugin"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "taskchat.conformance", "-q", "-p",
         "no:cacheprovider", *plugin, *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_pytest_plugin_is_inert_without_options(tmp_path: Path) -> None:
    done = _pytest_conformance(cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    assert " skipped" in done.stdout and "passed" not in done.stdout


def test_pytest_plugin_fails_the_broken_check(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    with faulty_server("http_health_down") as srv:
        done = _pytest_conformance("--server-url", srv.url, "--server-jwt-secret",
                                   srv.jwt_secret, "-k", "http_api or rooms",
                                   f"--junitxml={junit}", cwd=tmp_path)
    assert done.returncode == 1, done.stdout
    assert "1 failed" in done.stdout and "HTTP-1" in done.stdout
    assert "test_check[http_api.healthz]" in done.stdout
    # the requirement ids ride along as JUnit properties, as in taskchat check's own JUnit
    case = next(c for c in ET.parse(junit).getroot().iter("testcase")
                if c.get("name") == "test_check[http_api.healthz]")
    props = {(p.get("name"), p.get("value")) for p in case.iter("property")}
    assert {("requirement", "HTTP-1"), ("level", "MUST"), ("status", "fail")} <= props
