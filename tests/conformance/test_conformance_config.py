"""The TOML config: the documented example loads, and the command line wins over the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from taskchat.client.config import ROLES, ConfigError, load_target
from taskchat.client.tokens import claims_of, mint_token

EXAMPLE = Path(__file__).resolve().parents[2] / "conformance" / "example-config.toml"


def test_documented_example_loads_once_tokens_are_real(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    text = re.sub(r'"eyJ[^"]*\.\.\.(\w+)"',
                  lambda m: f'"{mint_token("s" * 32, "user-" + m.group(1))}"', text)
    config = tmp_path / "c.toml"
    config.write_text(text)
    target = load_target(config, None, None)
    assert target.url == "http://127.0.0.1:9553"
    assert set(target.tokens) == set(ROLES)
    assert target.user_id("member2") == "user-member2"
    assert target.tasks == {"main": "conformance-main", "other": "conformance-other"}
    assert target.timeouts.quiet == 0.3 and target.rate_limit is not None
    assert not target.can_mint


def test_secret_mints_unique_users_per_run_and_cli_wins(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('url = "http://10.0.0.1:1"\njwt_secret = "file-secret"\n')
    one = load_target(config, "http://127.0.0.1:9553/", "cli-secret")
    two = load_target(config, "http://127.0.0.1:9553", "cli-secret")
    assert one.url == "http://127.0.0.1:9553" and one.jwt_secret == "cli-secret"
    assert claims_of(one.token("admin_api"))["admin"] is True
    assert one.user_id("member") != two.user_id("member")


def test_adapter_none_needs_tasks(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('url = "http://127.0.0.1:1"\njwt_secret = "s"\nadapter = "none"\n')
    with pytest.raises(ConfigError, match=r"tasks\.main"):
        load_target(config, None, None)
