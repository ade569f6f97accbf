"""`taskchat serve` settings say what they mean: impossible values are refused in one line
(exit 2) before anything starts, and every option's help shows its default."""

from __future__ import annotations

import pytest
from taskchat.reference_server.config import ConfigError, ServerConfig

from taskchat.cli import main


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--rate-limit", "-1"], "--rate-limit"),
        (["--ping-interval", "0"], "--ping-interval"),
        (["--ping-timeout", "-5"], "--ping-timeout"),
        (["--max-payload", "0"], "--max-payload"),
        (["--rate-window", "nan"], "--rate-window"),
        (["--typing-timeout", "inf"], "--typing-timeout"),
        (["--port", "70000"], "--port"),
    ],
)
def test_impossible_settings_are_refused_in_one_line(
    args: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", "--jwt-secret", "s", "--db", ":memory:", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"taskchat: {option} must be"), err


def test_zero_rate_limit_is_a_valid_setting() -> None:
    assert ServerConfig(rate_limit=0).rate_limit == 0
    with pytest.raises(ConfigError):
        ServerConfig(rate_limit=-1)


def test_every_serve_option_shows_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for fragment in ("(default: 9553)", "(default: 25.0)", "(default: 20.0)",
                     "(default: 1000000)", "0 switches the limit off (default: 20)",
                     "(default: 10.0)", "(default: 5.0)", "(default: full)", "(default: info)"):
        assert fragment in text
