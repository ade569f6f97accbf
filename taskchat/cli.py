"""The ``taskchat`` command: one entry point whose subcommands live with the part they drive.

Each part registers its own subcommands (``register(subparsers)``); the modules named here must
stay light to import (no trio, gevent or locust at import time), because importing locust
monkey-patches the process and the server runs on trio.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType

from taskchat.about import describe

# subcommand module -> the commands it registers (in the order the help lists them)
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("taskchat.schemas_cmd", ("schemas",)),
    ("taskchat.reference_server.cli", ("serve", "token", "demo")),
    ("taskchat.conformance.cli", ("check",)),
    ("taskchat.loadtests.cli", ("load",)),
    ("taskchat.gate.cli", ("gate",)),
    ("taskchat.ci", ("ci",)),
)


class _Version(argparse.Action):
    """argparse's own version action, but asking git only when --version is given."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(describe())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskchat",
        description="Reference toolkit for the task-chat protocol on Socket.IO.",
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print the toolkit's version (and git revision in a checkout)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name, _commands in PARTS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if not (module_name == missing or module_name.startswith(missing + ".")):
                raise
            continue  # that part is not built in this checkout
        module.register(sub)
    return parser


def _terminated(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _exit_on_sigterm() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C: by default it ends the process on the spot, and the
    embedded server and the Locust process that ``check``, ``load`` and ``ci`` started would
    live on. As an exception it runs their context managers (``subprocess.run`` kills its
    child too). ``serve`` handles SIGTERM itself, inside trio, which replaces this handler
    while it runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _exit_on_sigterm():
            code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
