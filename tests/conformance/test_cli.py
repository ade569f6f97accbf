"""`taskchat check` exit statuses: 0 conformant, 1 a MUST fails, 2 cannot run."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from taskchat.cli import main

from .conftest import faulty_server


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


def test_broken_must_is_exit_1_and_reports_are_written(tmp_path: Path) -> None:
    with faulty_server("http_health_down") as srv:
        code = main(["check", "--url", srv.url, "--jwt-secret", srv.jwt_secret,
                     "--requirement", "HTTP-1", "--report-dir", str(tmp_path)])
    assert code == 1
    html = (tmp_path / "report.html").read_text()
    assert "HTTP-1" in html and "GET /healthz: 200" in html
    assert (tmp_path / "junit.xml").read_text().count("<failure") == 1


def test_conformant_selection_is_exit_0(tmp_path: Path) -> None:
    with faulty_server("http_health_down") as srv:  # broken only on /healthz
        code = main(["check", "--url", srv.url, "--jwt-secret", srv.jwt_secret,
                     "--only", "ROOM", "--report-dir", str(tmp_path)])
    assert code == 0
