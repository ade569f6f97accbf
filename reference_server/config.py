"""The reference server's settings, in one frozen value the CLI builds and the app reads.

Kept free of trio and sqlite imports so that ``taskchat --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    rate_limit: int = 20  # send/edit/delete per user per window (D20)
    rate_window: float = 10.0  # seconds
    typing_timeout: float = 5.0  # seconds after the last typing_start
    log_level: str = "info"
    protocol_test_mode: bool = False
    # SQLite "synchronous": FULL survives a power cut, NORMAL (in WAL) survives a killed process
    db_sync: str = "FULL"
