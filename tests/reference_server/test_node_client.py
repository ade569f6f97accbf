"""The official socket.io-client 4.x (Node) runs the seed's flow against the server
(tests/node/seed_flow.test.mjs). Skips only when ``node`` is missing; needs
``npm ci --prefix tests/node`` first, as the CI does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from server_process import SECRET, running
from taskchat.reference_server.auth import make_token

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_socket_io_client_runs_the_seed_flow(tmp_path: Path) -> None:
    assert (NODE_DIR / "node_modules" / "socket.io-client").is_dir(), (
        "run `npm ci --prefix tests/node` first"
    )
    with running(tmp_path) as srv:
        admin = {"Authorization": "Bearer " + make_token(SECRET, "root", admin=True)}
        r = requests.post(srv.url + "/api/tasks", json={"taskId": "node", "title": "Node"},
                          headers=admin, timeout=5)
        assert r.status_code == 201
        for uid, role in (("node-owner", "owner"), ("node-member", "member")):
            r = requests.put(f"{srv.url}/api/tasks/node/members/{uid}", json={"role": role},
                             headers=admin, timeout=5)
            assert r.status_code == 200
        env = {
            "url": srv.url,
            "taskId": "node",
            "tokens": {
                "owner": make_token(SECRET, "node-owner", name="Node Owner"),
                "member": make_token(SECRET, "node-member", name="Node Member"),
                "expired": make_token(SECRET, "node-member", ttl=-10),
            },
        }
        proc = subprocess.run(
            ["node", "--test", "seed_flow.test.mjs"], cwd=NODE_DIR, capture_output=True,
            text=True, timeout=60, env={**os.environ, "TASKCHAT_NODE_ENV": json.dumps(env)},
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "# pass 2" in proc.stdout and "# fail 0" in proc.stdout
