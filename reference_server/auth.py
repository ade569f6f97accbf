"""Token verification (CONTRACT §2, §10; D18, D19) and the identity a token gives.

The algorithm a token may use is bound to the key the server holds — HS256 to the secret, RS256
to the public key — and the token's header only picks which of the server's keys to try. So a
token signed HS256 with the RSA public key as the secret, or HS512 with the right secret, or
``alg: none``, is refused.
"""

from __future__ import annotations

import math
from typing import Any

import jwt
from taskchat.reference_server.chat.model import Identity
from taskchat.reference_server.chat.validators import invalid_text
from taskchat.schemas import ErrorCode

_MAX_NAME = 256
_NUMERIC_DATES = ("exp", "nbf", "iat")


class AuthFailure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def payload(self) -> dict[str, object]:
        """The CONNECT_ERROR payload: what socket.io-client shows as err.message / err.data."""
        return {"message": self.message, "data": {"code": self.code}}


class Verifier:
    def __init__(self, *, secret: str | None = None, public_key: str | bytes | None = None) -> None:
        if not secret and not public_key:
            raise ValueError("a JWT secret or public key is required")
        self._keys: dict[str, Any] = {}
        if secret:
            self._keys["HS256"] = secret
        if public_key:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            pem = public_key.encode() if isinstance(public_key, str) else public_key
            self._keys["RS256"] = load_pem_public_key(pem)

    def verify(self, token: object) -> Identity:
        """The identity of a good token; raises ``AuthFailure`` with the contract's code."""
        if token is None or token == "":
            raise AuthFailure(ErrorCode.AUTH_REQUIRED, "authentication token required")
        if not isinstance(token, str):
            raise AuthFailure(ErrorCode.AUTH_INVALID, "the token must be a string")
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            raise AuthFailure(ErrorCode.AUTH_INVALID, "the token is not a JWT") from None
        key = self._keys.get(alg) if isinstance(alg, str) else None
        if key is None:
            raise AuthFailure(ErrorCode.AUTH_INVALID, f"tokens signed with {alg!r} are not accepted")
        _check_claim_types(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                leeway=0,
                options={"require": ["sub"], "verify_aud": False, "verify_iss": False},
            )
        except jwt.ExpiredSignatureError:
            raise AuthFailure(ErrorCode.AUTH_EXPIRED, "the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthFailure(ErrorCode.AUTH_INVALID, "the token is not valid yet") from None
        except jwt.InvalidSignatureError:
            raise AuthFailure(ErrorCode.AUTH_INVALID, "the token's signature is wrong") from None
        except jwt.PyJWTError as exc:
            raise AuthFailure(ErrorCode.AUTH_INVALID, f"invalid token: {exc}") from None
        return identity_from_claims(claims)

    def verify_auth(self, auth: object) -> Identity:
        """The CONNECT packet's ``auth``: ``{"token": ...}``; anything else has no token."""
        token = auth.get("token") if isinstance(auth, dict) else None
        return self.verify(token)


def _check_claim_types(token: str) -> None:
    """ISO-2, ISO-3: claims that are not what RFC 7519 says are AUTH_INVALID, checked before PyJWT's
    own checks, which read ``"exp": "9999999999"`` as a number (and ``true`` as 1), and pass
    text that is not valid Unicode on to the store. Every outcome here is AUTH_INVALID, as a
    bad signature is, so reading the claims before the signature is checked tells nothing."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return  # not a JWT payload: the verifying decode says so
    for name in _NUMERIC_DATES:
        value = claims.get(name)
        if name in claims and (
            isinstance(value, bool) or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise AuthFailure(
                ErrorCode.AUTH_INVALID, f"the token's {name} must be a JSON number (NumericDate)"
            )
    bad = invalid_text(claims)
    if bad is not None:
        raise AuthFailure(
            ErrorCode.AUTH_INVALID, f"the token's claim {bad[:100]} is not valid Unicode"
        )


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 128:
        raise AuthFailure(ErrorCode.AUTH_INVALID, "the token's sub must be a user id string")
    name = _text(claims.get("name"))
    first = _text(claims.get("first_name"))
    last = _text(claims.get("last_name"))
    if name:
        display = name
        if not first and not last:  # §10: split `name` at the first space
            first, _, last = name.partition(" ")
    elif first or last:
        display = f"{first} {last}".strip()
    else:
        display = first = sub
    avatar = claims.get("avatar_url")
    return Identity(
        user_id=sub,
        name=display[:_MAX_NAME],
        first_name=first[:_MAX_NAME],
        last_name=last[:_MAX_NAME],
        avatar_url=avatar[:2048] if isinstance(avatar, str) else None,
        admin=claims.get("admin") is True,
    )


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def make_token(
    secret: str,
    sub: str,
    *,
    name: str | None = None,
    admin: bool = False,
    ttl: float | None = 3600,
    extra: dict[str, Any] | None = None,
) -> str:
    """An HS256 token as the server expects it (``taskchat token``, tests, benchmarks)."""
    import time

    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "iat": now}
    if name is not None:
        claims["name"] = name
    if admin:
        claims["admin"] = True
    if ttl is not None:
        claims["exp"] = now + int(ttl)
    claims.update(extra or {})
    return jwt.encode(claims, secret, algorithm="HS256")
