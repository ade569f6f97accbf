"""What a test run talks to: the server's URL, the tokens of its users, its tasks and timeouts.

Shared by the conformance suite and the Locust scenarios. A target comes from a TOML file
(``--config``, documented in ``conformance/README.md``), from a URL and a JWT secret (then the
tokens are minted here, for users whose ids are unique to this run, so a long-running server can
be checked again and again), or both (the command-line values win).
"""

from __future__ import annotations

import secrets
import tomllib
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

from taskchat.client.tokens import claims_of, mint_token

# The user roles a run needs. "admin_api" is the token of the HTTP admin API (claim admin: true),
# "outsider" a user who is a member of no task of the run.
ROLES: tuple[str, ...] = ("owner", "admin", "member", "member2", "viewer", "outsider", "admin_api")
# The task role each user holds in the run's main task (the config's pre-made tasks promise it).
TASK_ROLES: dict[str, str] = {
    "owner": "owner",
    "admin": "admin",
    "member": "member",
    "member2": "member",
    "viewer": "viewer",
}
DISPLAY_NAMES: dict[str, str] = {
    "owner": "Olivia Owner",
    "admin": "Adam Admin",
    "member": "Mia Member",
    "member2": "Max Member",
    "viewer": "Vera Viewer",
    "outsider": "Otto Outsider",
    "admin_api": "Conformance Admin",
}


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class Timeouts:
    """Upper bounds in seconds; a slow but correct server only makes a run slower."""

    connect: float = 5.0
    event: float = 5.0
    ack: float = 5.0
    # how long "nothing more arrives" is watched for, after a positive barrier
    quiet: float = 0.3
    typing_timeout: float = 5.0  # the server's typing timeout (TYPE-4)
    restart: float = 30.0  # for the restart command to bring the server back
    # the longest the heartbeat check (TRANS-4) may watch one session; with the defaults
    # (pingInterval + pingTimeout = 45 s) it watches one ping interval instead of the whole
    heartbeat_budget: float = 30.0


@dataclass(frozen=True)
class Stateful:
    """The budget of the stateful phase (``conformance/stateful``): random multi-user sessions
    checked against a model of the protocol. The defaults keep a whole ``taskchat check`` on
    the embedded server within its time target (benchmarks/check_bench.py measures it)."""

    examples: int = 1000  # sessions at most (0 turns the phase off); the budget ends it first
    budget: float = 15.0  # seconds of new sessions; a failure found is still shrunk after it
    steps: int = 50  # actions per session at most
    shrink: float = 20.0  # seconds for shrinking a failing session to its shortest form
    # after the expected events of a step that the contract leaves a choice in, how long the
    # server's choice is waited for
    grace: float = 0.02
    settle: float = 0.05  # at the end of a session: how long extra events are watched for


@dataclass(frozen=True)
class RateLimit:
    count: int = 20
    window: float = 10.0


@dataclass
class Target:
    url: str
    jwt_secret: str | None = None
    jwt_algorithm: str = "HS256"
    tokens: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, str] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    adapter: str = "admin-api"
    restart_command: str | None = None
    rate_limit: RateLimit | None = None
    stateful: Stateful = field(default_factory=Stateful)
    # whether the server offers CONTRACT §9's HTTP endpoints (history, admin API, /healthz)
    http_api: bool = True
    rs256_private_key: str | None = None  # PEM; the server must hold its public key (AUTH-11)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    # set by a caller that controls the server itself (the embedded server): restarts it
    restart_hook: Any = None
    # what a run draws at random from (generated payloads, the stateful phase's sessions):
    # printed, so a failure can be replayed with --seed
    seed: int = field(default_factory=lambda: secrets.randbelow(1_000_000))
    # where socket.io-client is installed (a node_modules directory), when not found by default
    node_modules: Path | None = None

    @property
    def can_mint(self) -> bool:
        return self.jwt_secret is not None

    def token(self, role: str) -> str:
        try:
            return self.tokens[role]
        except KeyError:
            raise ConfigError(f"no token for role {role!r} (tokens.{role})") from None

    def user_id(self, role: str) -> str:
        try:
            sub = claims_of(self.token(role)).get("sub")
        except jwt.PyJWTError as exc:
            raise ConfigError(f"tokens.{role} is not a JWT: {exc}") from None
        if not isinstance(sub, str):
            raise ConfigError(f"the {role!r} token has no string 'sub'")
        return sub

    def mint(self, sub: str, **claims: Any) -> str:
        """A token for a new user of this run (only with a JWT secret)."""
        if self.jwt_secret is None:
            raise ConfigError("minting tokens needs jwt_secret")
        return mint_token(self.jwt_secret, sub, alg=self.jwt_algorithm, **claims)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"url must be http(s)://host:port, got {url!r}")
    return url.rstrip("/")


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{key}] must be a table")
    return value


def _timeouts(raw: dict[str, Any]) -> Timeouts:
    known = Timeouts.__dataclass_fields__
    values: dict[str, float] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"unknown key timeouts.{key} (known: {', '.join(known)})")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"timeouts.{key} must be a positive number, got {value!r}")
        values[key] = float(value)
    return Timeouts(**values)


def _stateful(raw: dict[str, Any]) -> Stateful:
    out = Stateful()
    for key, value in raw.items():
        if key not in Stateful.__dataclass_fields__:
            raise ConfigError(f"unknown key stateful.{key} "
                              f"(known: {', '.join(Stateful.__dataclass_fields__)})")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"stateful.{key} must be a number >= 0, got {value!r}")
        kind = type(getattr(out, key))
        out = replace(out, **{key: kind(value)})
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def load_target(config_path: Path | None, url: str | None, jwt_secret: str | None) -> Target:
    """Build the target from a TOML file and/or a URL and secret; ConfigError if unusable."""
    data: dict[str, Any] = _read_toml(config_path) if config_path is not None else {}
    url = url or data.get("url")
    if not isinstance(url, str):
        raise ConfigError("no server URL: give --url or 'url' in the config file")
    secret = jwt_secret or data.get("jwt_secret")
    if secret is not None and not isinstance(secret, str):
        raise ConfigError("jwt_secret must be a string")
    algorithm = data.get("jwt_algorithm", "HS256")
    if algorithm not in ("HS256", "HS384", "HS512"):
        raise ConfigError(f"jwt_algorithm must be HS256, HS384 or HS512, got {algorithm!r}")
    tokens = {str(k): v for k, v in _section(data, "tokens").items()}
    for role, token in tokens.items():
        if role not in ROLES:
            raise ConfigError(f"unknown role tokens.{role} (roles: {', '.join(ROLES)})")
        if not isinstance(token, str) or not token:
            raise ConfigError(f"tokens.{role} must be a non-empty string")
    tasks = _section(data, "tasks")
    for key, task in tasks.items():
        if not isinstance(task, str) or not task:
            raise ConfigError(f"tasks.{key} must be a non-empty string")
    adapter = data.get("adapter", "admin-api")
    if not isinstance(adapter, str) or not (adapter in ("admin-api", "none") or ":" in adapter):
        raise ConfigError(
            f"adapter must be 'admin-api', 'none' or 'pkg.module:Class', got {adapter!r}"
        )
    restart = data.get("restart_command")
    if restart is not None and not isinstance(restart, str):
        raise ConfigError("restart_command must be a string (a shell command)")
    rate = _section(data, "rate_limit")
    rate_limit = None
    if rate:
        try:
            rate_limit = RateLimit(int(rate.get("count", 20)), float(rate.get("window", 10.0)))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[rate_limit] needs numbers: {exc}") from exc
    http_api = data.get("http_api", True)
    if not isinstance(http_api, bool):
        raise ConfigError("http_api must be true or false")
    key_path = data.get("rs256_private_key")
    private_key = None
    if key_path is not None:
        base = config_path.parent if config_path is not None else Path.cwd()
        try:
            private_key = (base / str(key_path)).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read rs256_private_key {key_path}: {exc}") from exc
    target = Target(
        url=_check_url(url),
        jwt_secret=secret,
        jwt_algorithm=algorithm,
        tokens=dict(tokens),
        tasks=dict(tasks),
        timeouts=_timeouts(_section(data, "timeouts")),
        adapter=adapter,
        restart_command=restart,
        rate_limit=rate_limit,
        stateful=_stateful(_section(data, "stateful")),
        http_api=http_api,
        rs256_private_key=private_key,
    )
    for role in ROLES:
        if role in target.tokens:
            continue
        if secret is None:
            raise ConfigError(
                f"no token for role {role!r}: give tokens.{role} in the config, or a jwt_secret"
            )
        sub = f"cf-{target.run_id}-{role}"
        target.tokens[role] = target.mint(
            sub, name=DISPLAY_NAMES[role], admin=(role == "admin_api")
        )
    for role in target.tokens:
        target.user_id(role)  # every token must carry a string sub: fail now, not mid-run
    if target.adapter == "none" and "main" not in target.tasks:
        raise ConfigError("with adapter 'none' the config must name tasks.main (and tasks.other)")
    return target
