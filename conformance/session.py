"""One whole run: target, embedded server if asked, selection, checks, reports.

Shared by the command line and the pytest plugin, so both judge a server the same way.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from jwt.warnings import InsecureKeyLengthWarning
from taskchat.conformance.registry import all_checks, select
from taskchat.conformance.replay import SECRET_ENV, replay_command
from taskchat.conformance.report_files import default_dir, write_all
from taskchat.conformance.results import CheckResult, RunResult
from taskchat.conformance.runner import RunError, run_checks
from taskchat.conformance.terminal import Progress, summary
from taskchat.schemas import REQUIREMENTS, areas

from taskchat.client.config import ConfigError, Target, load_target


class CannotRun(RuntimeError):
    """Bad configuration, unreachable server, a selection that matches nothing."""


def _replayer(url: str | None, config: Path | None, secret: bool,
              seed: int) -> Callable[[CheckResult], str]:
    def replay(result: CheckResult) -> str:
        named = [f.requirement for f in result.findings if f.requirement in result.requirements]
        return replay_command(url, config, secret, (named or result.requirements)[0], seed,
                              result.replay_args)
    return replay


@contextlib.contextmanager
def open_target(url: str | None, jwt_secret: str | None, config: Path | None) -> Iterator[Target]:
    """The target; with neither URL nor config, the embedded reference server for the run."""
    if url is None and config is None:
        from taskchat.embedded import embedded_server

        # hex, not token_urlsafe: a secret starting with "-" reads as an option to `serve`
        secret = jwt_secret or secrets.token_hex(32)
        with tempfile.TemporaryDirectory(prefix="taskchat-check-") as keydir:
            private_pem, public_path = _rs256_key_pair(Path(keydir))
            try:
                srv_cm = embedded_server(jwt_secret=secret,
                                         extra_args=["--jwt-public-key", str(public_path)])
                srv = srv_cm.__enter__()
            except Exception as exc:
                raise CannotRun(f"the embedded server did not start: {exc}") from exc
            try:
                target = load_target(None, srv.url, srv.jwt_secret)
                target.tokens["admin_api"] = srv.admin_token
                target.restart_hook = srv.restart
                target.rs256_private_key = private_pem
                yield target
            finally:
                srv_cm.__exit__(None, None, None)
        return
    try:
        yield load_target(config, url, jwt_secret)
    except ConfigError as exc:
        raise CannotRun(f"bad configuration: {exc}") from exc


def _rs256_key_pair(directory: Path) -> tuple[str, Path]:
    """A key pair for the embedded server, so its run checks RS256 (AUTH-11) too."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_path = directory / "rs256-public.pem"
    public_path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_pem, public_path


def _stateful_options(target: Target, seed: int | None, overrides: Mapping[str, float]) -> None:
    """The command line's seed and stateful budget win over the config file's."""
    if seed is not None:
        target.seed = seed
    bad = [f"{k}={v}" for k, v in overrides.items() if v < 0]
    if bad:
        raise CannotRun(f"stateful options must be >= 0: {', '.join(bad)}")
    kinds = {k: type(getattr(target.stateful, k)) for k in overrides}
    target.stateful = replace(target.stateful, **{k: kinds[k](v) for k, v in overrides.items()})


def _check_selection(only: Sequence[str], requirements: Sequence[str]) -> None:
    unknown_areas = [a for a in only if a.upper() not in areas()]
    if unknown_areas:
        raise CannotRun(f"unknown area {unknown_areas} (areas: {', '.join(areas())})")
    unknown = [r for r in requirements if r.upper() not in REQUIREMENTS]
    if unknown:
        raise CannotRun(f"unknown requirement id {unknown}")


def run_session(
    *,
    url: str | None = None,
    jwt_secret: str | None = None,
    config: Path | None = None,
    only: Sequence[str] = (),
    requirements: Sequence[str] = (),
    level: str | None = None,
    report_dir: Path | None = None,
    workers: int = 6,
    verbose: bool = False,
    stream: TextIO | None = None,
    seed: int | None = None,
    exitfirst: bool = False,
    node_modules: Path | None = None,
    stateful: Mapping[str, float] | None = None,
) -> RunResult:
    stream = stream or sys.stdout  # looked up per run: a test may have swapped it
    jwt_secret = jwt_secret or os.environ.get(SECRET_ENV) or None
    # the server's secret is the server's business: PyJWT's advice on its length is noise here
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    _check_selection(only, requirements)
    checks = select(all_checks().values(), only, requirements, level)
    if not checks:
        raise CannotRun("the selection matches no check")
    try:
        with open_target(url, jwt_secret, config) as target:
            _stateful_options(target, seed, stateful or {})
            if node_modules is not None:
                target.node_modules = node_modules
            if target.stateful.examples == 0:  # the stateful phase is turned off
                checks = [c for c in checks if c.area != "STATE"]
                if not checks:
                    raise CannotRun("the selection matches no check")
            print(f"taskchat conformance: {len(checks)} checks against {target.url} "
                  f"(seed {target.seed})", file=stream, flush=True)
            replay = _replayer(url, config, bool(jwt_secret), target.seed)
            run = run_checks(target, checks, workers=workers, exitfirst=exitfirst,
                             progress=Progress(len(checks), stream, verbose), replay=replay)
    except ConfigError as exc:
        raise CannotRun(f"bad configuration: {exc}") from exc
    except RunError as exc:
        raise CannotRun(str(exc)) from exc
    summary(run, stream)
    paths = write_all(run, report_dir or default_dir())
    print(f"reports: {paths['html']} {paths['junit']} {paths['json']}", file=stream)
    return run
