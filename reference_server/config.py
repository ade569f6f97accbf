"""The reference server's settings, in one frozen value the CLI builds and the app reads.

Kept free of trio and sqlite imports so that ``taskchat --help`` stays fast. The defaults here
are the CLI's defaults (``cli.py`` reads them from this class), and ``__post_init__`` refuses
impossible values, so a server never starts with settings that cannot mean anything.
"""

from __future__ import annotations

from dataclasses import dataclass

SYNC_MODES = ("FULL", "NORMAL")
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """An impossible setting; the message names the CLI option, in one line."""


@dataclass(frozen=True)
class TransportSettings:
    """What the wire shell needs: the part of ``ServerConfig`` below the chat rules (the
    protocol test mode builds its own, with the official suites' values)."""

    host: str = "127.0.0.1"
    port: int = 9553
    ping_interval: float = 25.0  # seconds
    ping_timeout: float = 20.0  # seconds
    max_payload: int = 1_000_000  # bytes
    connect_timeout: float = 45.0  # seconds from the handshake to a namespace CONNECT
    send_queue_limit: int = 1024  # packets queued per socket before it is dropped as too slow
    write_timeout: float = 10.0  # a write blocked this long marks a slow consumer
    namespaces: tuple[str, ...] = ("/",)
    cors_origin: str | None = None  # answer cross-origin callers from this origin ("*": any)


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 9553  # 0 = let the OS pick a free port
    db: str = "taskchat.sqlite3"  # ":memory:" keeps nothing across restarts
    jwt_secret: str | None = None  # HS256
    jwt_public_key: str | None = None  # PEM text, RS256
    ping_interval: float = 25.0  # seconds
    ping_timeout: float = 20.0  # seconds
    max_payload: int = 1_000_000  # bytes
    rate_limit: int = 20  # send/edit/delete per user per window (D20); 0 = no limit
    rate_window: float = 10.0  # seconds
    typing_timeout: float = 5.0  # seconds after the last typing_start
    log_level: str = "info"
    protocol_test_mode: bool = False
    # SQLite "synchronous": FULL survives a power cut, NORMAL (in WAL) survives a killed process
    db_sync: str = "FULL"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            _refuse("port", self.port, "a TCP port from 0 (any free port) to 65535")
        for name in ("ping_interval", "ping_timeout", "rate_window", "typing_timeout"):
            value = getattr(self, name)
            if not (value > 0 and value < float("inf")):  # NaN fails too
                _refuse(name, value, "a positive number of seconds")
        if self.max_payload < 1:
            _refuse("max_payload", self.max_payload, "a positive number of bytes")
        if self.rate_limit < 0:
            _refuse("rate_limit", self.rate_limit, "0 (no limit) or a positive count")
        if self.db_sync.upper() not in SYNC_MODES:
            _refuse("db_sync", self.db_sync, "full or normal")
        if self.log_level not in LOG_LEVELS:
            _refuse("log_level", self.log_level, ", ".join(LOG_LEVELS))


    @property
    def transport(self) -> TransportSettings:
        return TransportSettings(
            host=self.host,
            port=self.port,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            max_payload=self.max_payload,
        )


def _refuse(field: str, value: object, expected: str) -> None:
    raise ConfigError(f"--{field.replace('_', '-')} must be {expected}, not {value!r}")
