"""The embedded reference server the tools start when no URL is given."""

from pathlib import Path

import pytest
import requests

from taskchat.embedded import EmbeddedServerError, embedded_server


def test_serves_keeps_its_data_across_a_crash_restart_and_stops(tmp_path: Path) -> None:
    with embedded_server(workdir=tmp_path) as srv:
        assert srv.url.startswith("http://127.0.0.1:")
        assert requests.get(f"{srv.url}/healthz", timeout=5).status_code == 200
        admin = {"Authorization": f"Bearer {srv.admin_token}"}
        created = requests.post(f"{srv.url}/api/tasks", json={"title": "kept"}, headers=admin, timeout=5)
        assert created.status_code == 201
        task = created.json()["taskId"]
        url = srv.url

        srv.restart()  # SIGKILL, as a crash would, then the same port and file

        assert srv.url == url
        member = requests.put(
            f"{srv.url}/api/tasks/{task}/members/u1", json={"role": "member"}, headers=admin, timeout=5
        )
        assert member.status_code == 200, "the task created before the crash is gone"
        process = srv.process
    assert process is not None and process.poll() is not None, "the server outlived the block"


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedServerError, match="exited"), embedded_server(
        workdir=tmp_path, extra_args=["--no-such-option"]
    ):
        pass


def test_a_secret_that_looks_like_an_option_is_still_a_secret(tmp_path: Path) -> None:
    with embedded_server(workdir=tmp_path, jwt_secret="-starts-like-an-option") as srv:
        assert requests.get(f"{srv.url}/healthz", timeout=5).status_code == 200
