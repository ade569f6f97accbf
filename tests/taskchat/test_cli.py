"""The one entry point: every part's subcommands are there."""

import importlib

import pytest

from taskchat.cli import PARTS, build_parser


@pytest.mark.parametrize(("module", "commands"), PARTS, ids=[m for m, _ in PARTS])
def test_every_part_is_built_and_registers_its_commands(
    module: str, commands: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    # build_parser skips a part whose package is missing (a partial checkout); the product may not.
    importlib.import_module(module)
    parser = build_parser()
    for command in commands:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([command, "--help"])
        assert exc.value.code == 0, f"taskchat {command} --help failed"
        assert f"taskchat {command}" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_version_names_the_distribution_and_a_checkout_its_revision(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from importlib.metadata import version

    from taskchat import about

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"taskchat {version('taskchat')}")
    # the tests run from the repository: its commit is named
    rev = about.revision()
    assert rev is not None and f"(git {rev})" in out


def test_an_installed_package_outside_its_checkout_names_no_revision(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from taskchat import about

    monkeypatch.setattr(about, "_checkout_root", lambda: Path(str(tmp_path)))
    about.revision.cache_clear()
    try:
        assert about.revision() is None
    finally:
        about.revision.cache_clear()
