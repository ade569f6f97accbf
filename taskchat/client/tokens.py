"""JWTs for test users: the conformance suite and the Locust users mint the tokens they need.

Kept apart from the connection code so a caller that only mints (a config loader, a CI script)
does not pull in websocket-client.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt


def mint_token(
    secret: str,
    sub: str,
    *,
    name: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    admin: bool = False,
    ttl: float | None = 3600,
    alg: str = "HS256",
    **claims: Any,
) -> str:
    """A signed token for ``sub``; ``ttl=None`` leaves out ``exp``.

    Extra ``claims`` override the defaults, so a check can set ``exp`` in the past, a future
    ``nbf``, or ``sub=None`` (which removes the claim) to build the tokens a server must refuse.
    """
    now = int(time.time())
    payload: dict[str, Any] = {"sub": sub, "iat": now}
    if ttl is not None:
        payload["exp"] = now + int(ttl)
    if name is not None:
        payload["name"] = name
    if first_name is not None:
        payload["first_name"] = first_name
    if last_name is not None:
        payload["last_name"] = last_name
    if admin:
        payload["admin"] = True
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret, algorithm=alg)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned_token(claims: dict[str, Any]) -> str:
    """An ``alg: none`` token: PyJWT refuses to make one, and a server must refuse to take one."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{header}.{body}."


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a token, unverified: for reading the ``sub`` of a pre-made token."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims
