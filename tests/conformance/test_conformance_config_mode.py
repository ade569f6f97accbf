"""A server checked through a config file alone: pre-made tokens, pre-made tasks, no adapter.

The QA-team path: no JWT secret, no control adapter. The backend-event checks are skipped and
say why; the rest run one at a time on the shared tasks without false alarms.
"""

from __future__ import annotations

import io
import secrets
from pathlib import Path

from taskchat.conformance.results import PASS, SKIP
from taskchat.conformance.session import run_session

from taskchat.client.control import AdminApiAdapter
from taskchat.client.tokens import mint_token
from taskchat.embedded import embedded_server

ROLES = {"owner": "owner", "admin": "admin", "member": "member", "member2": "member",
         "viewer": "viewer"}


def test_config_file_with_adapter_none(tmp_path: Path) -> None:
    with embedded_server(jwt_secret=secrets.token_hex(32)) as srv:
        tokens = {r: mint_token(srv.jwt_secret, f"qa-{r}", name=f"Qa {r.title()}")
                  for r in [*ROLES, "outsider"]}
        tokens["admin_api"] = srv.admin_token
        setup = AdminApiAdapter(srv.url, srv.admin_token)  # what the QA team did beforehand
        setup.create_task("main", "qa-main")
        setup.create_task("other", "qa-other")
        for role, task_role in ROLES.items():
            setup.set_member("qa-main", f"qa-{role}", task_role)
        setup.set_member("qa-other", "qa-member", "member")
        config = tmp_path / "qa.toml"
        config.write_text(
            f'url = "{srv.url}"\nadapter = "none"\n[tokens]\n'
            + "".join(f'{k} = "{v}"\n' for k, v in tokens.items())
            + '[tasks]\nmain = "qa-main"\nother = "qa-other"\n'
        )
        out = io.StringIO()
        run = run_session(config=config, only=["ROOM", "PERM", "BACK"],
                          report_dir=tmp_path / "report", stream=out)
    status = {r.id: r.status for r in run.requirements}
    assert not run.must_failed, out.getvalue()
    assert all(status[f"BACK-{n}"] == SKIP for n in range(1, 5))
    assert all(status[f"ROOM-{n}"] == PASS for n in range(1, 7))
    assert all(status[f"PERM-{n}"] == PASS for n in range(1, 6))
    assert status["PERM-6"] == status["PERM-7"] == SKIP
    skipped = [c for c in run.checks if c.area == "BACK"]
    assert skipped and all("control adapter" in (c.skip_reason or "") for c in skipped)
    assert run.settings["concurrent"] is False
