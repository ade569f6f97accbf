"""AUTH: which tokens a server takes, which it refuses, and with which code."""

from __future__ import annotations

import base64
import json
import time
import warnings

import jwt
from taskchat.conformance.context import Ctx, User
from taskchat.conformance.registry import check
from taskchat.schemas import ErrorCode, Event

from taskchat.client.connection import ClientError
from taskchat.client.tokens import claims_of, unsigned_token


@check("AUTH-1", "AUTH-10")
def valid_token_accepted(ctx: Ctx) -> None:
    """A valid token connects (one without ``exp`` too, or the report notes it)."""
    ctx.connect("member", req="AUTH-1")
    if ctx.target.can_mint:
        # CONTRACT §10: a token without exp MAY be accepted (D18 accepts): not a failure
        token = ctx.target.mint(ctx.uid("noexp"), name="No Expiry", ttl=None)
        conn = ctx.new_connection({"token": token}, "no-exp")
        try:
            conn.connect()
        except ClientError as exc:
            ctx.note(f"a token without exp is refused ({exc}); CONTRACT §10 allows either")
        finally:
            conn.close()


@check("AUTH-2", "AUTH-10")
def missing_token(ctx: Ctx) -> None:
    """No auth, no token, a null token and an empty token are AUTH_REQUIRED."""
    for auth, what in ((None, "a CONNECT without auth"), ({}, "auth without a token"),
                       ({"token": None}, "a null token"), ({"token": ""}, "an empty token")):
        ctx.refused_connect(auth, code=ErrorCode.AUTH_REQUIRED, req="AUTH-2", what=what)


@check("AUTH-3", "AUTH-10")
def alg_none(ctx: Ctx) -> None:
    """An unsigned token (``alg: none``) is AUTH_INVALID."""
    claims = claims_of(ctx.user("member").token)
    ctx.refused_connect({"token": unsigned_token(claims)}, code=ErrorCode.AUTH_INVALID,
                        req="AUTH-3", what="an alg:none token")


def _tampered(token: str) -> str:
    """The same header and signature over a changed payload: a wrong signature, no secret
    needed."""
    header, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = str(claims.get("sub")) + "-forged"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@check("AUTH-4", "AUTH-10")
def wrong_signature(ctx: Ctx) -> None:
    """A token signed with another secret, or whose payload was changed, is AUTH_INVALID."""
    token = ctx.user("member").token
    ctx.refused_connect({"token": _tampered(token)}, code=ErrorCode.AUTH_INVALID, req="AUTH-4",
                        what="a token whose payload was changed after signing")
    other = jwt.encode({**claims_of(token), "exp": int(time.time()) + 600},
                       "not-the-servers-secret-" + "x" * 32, algorithm="HS256")
    ctx.refused_connect({"token": other}, code=ErrorCode.AUTH_INVALID, req="AUTH-4",
                        what="a token signed with another secret")


@check("AUTH-5", "AUTH-10", needs=["secret"])
def wrong_algorithm(ctx: Ctx) -> None:
    """HS512 (or HS384) with the server's own secret is AUTH_INVALID."""
    for alg in ("HS512", "HS384", "HS256"):
        if alg == ctx.target.jwt_algorithm:
            continue
        with warnings.catch_warnings():  # a short secret for HS512 is the point, not a mistake
            warnings.simplefilter("ignore")
            token = jwt.encode({"sub": ctx.uid("alg"), "name": "Al Gorithm",
                                "exp": int(time.time()) + 600}, ctx.target.jwt_secret,
                               algorithm=alg)
        ctx.refused_connect({"token": token}, code=ErrorCode.AUTH_INVALID, req="AUTH-5",
                            what=f"a {alg} token signed with the server's secret")


@check("AUTH-6", "AUTH-10", needs=["secret"])
def expired(ctx: Ctx) -> None:
    """A token whose exp has passed is AUTH_EXPIRED."""
    token = ctx.target.mint(ctx.uid("exp"), name="Ex Pired", exp=int(time.time()) - 60)
    ctx.refused_connect({"token": token}, code=ErrorCode.AUTH_EXPIRED, req="AUTH-6",
                        what="a token that expired a minute ago")


@check("AUTH-7", "AUTH-10", needs=["secret"])
def future_nbf(ctx: Ctx) -> None:
    """A token not valid before a future time is AUTH_INVALID."""
    token = ctx.target.mint(ctx.uid("nbf"), name="Not Yet", nbf=int(time.time()) + 600)
    ctx.refused_connect({"token": token}, code=ErrorCode.AUTH_INVALID, req="AUTH-7",
                        what="a token whose nbf is 10 minutes ahead")


@check("AUTH-8", "AUTH-10", needs=["secret"])
def missing_sub(ctx: Ctx) -> None:
    """A token without sub, or with a number as sub, is AUTH_INVALID."""
    secret = ctx.target.jwt_secret
    assert secret is not None
    exp = int(time.time()) + 600
    for claims, what in (({"name": "No Sub", "exp": exp}, "a token without sub"),
                         ({"sub": 12345, "name": "Numeric Sub", "exp": exp},
                          "a token whose sub is a number")):
        # PyJWT refuses to encode a non-string sub: sign the JSON ourselves
        header = {"alg": ctx.target.jwt_algorithm, "typ": "JWT"}
        token = jwt.api_jws.encode(json.dumps(claims).encode(), secret,
                                   algorithm=ctx.target.jwt_algorithm, headers=header)
        ctx.refused_connect({"token": token}, code=ErrorCode.AUTH_INVALID, req="AUTH-8",
                            what=what)


@check("AUTH-9", "AUTH-10")
def not_a_token(ctx: Ctx) -> None:
    """A number, an object, or a string that is not a JWT is AUTH_INVALID."""
    for token, what in ((12345, "a number as token"), ({"sub": "x"}, "an object as token"),
                        ("not-a-jwt", "a string that is not a JWT"),
                        ("a.b.c", "three dots of garbage")):
        ctx.refused_connect({"token": token}, code=ErrorCode.AUTH_INVALID, req="AUTH-9",
                            what=what)


@check("AUTH-11", needs=["rs256"])
def rs256_accepted(ctx: Ctx) -> None:
    """An RS256 token signed with the configured private key is accepted."""
    key = ctx.target.rs256_private_key
    token = jwt.encode({"sub": ctx.uid("rs"), "name": "Rsa User", "exp": int(time.time()) + 600},
                       key, algorithm="RS256")
    ctx.connect(User("member", "", token, "Rsa User"), req="AUTH-11")


@check("AUTH-12", "MSG-9", needs=["control"])
def display_names(ctx: Ctx) -> None:
    """Names come from ``name`` (split at the first space) or ``first_name`` + ``last_name``;
    ``avatar_url`` is the claim or null."""
    if not ctx.target.can_mint:
        ctx.skip("needs jwt_secret to mint tokens with chosen name claims")
    one = ctx.user("member", name="Ada Lovelace King")
    two = ctx.user("member2", first_name="Grace", last_name="Hopper",
                   avatar_url="https://example.com/grace.png")
    solo = ctx.user("viewer", name="Cher")
    task = ctx.control.create_task("names", ctx.uid("task"))
    for user, role in ((one, "member"), (two, "member"), (solo, "member")):
        ctx.control.set_member(task, user.sub, role)
    a = ctx.join(one, task)
    joined = a.call(Event.JOIN_TASK, task)
    names = {u.get("userId"): u.get("userName") for u in joined.get("onlineUsers", [])}
    ctx.expect(names.get(one.sub) == "Ada Lovelace King", "AUTH-12",
               "onlineUsers shows the token's name", names)
    b = ctx.join(two, task)
    seen = a.wait(Event.USER_JOINED, lambda p: p["userId"] == two.sub, req="PRES-1")
    ctx.expect(seen.get("userName") == "Grace Hopper", "AUTH-12",
               "userName is first_name + ' ' + last_name", seen)
    c = ctx.join(solo, task)
    cases = (
        (a, one, "Ada", "Lovelace King", None),
        (b, two, "Grace", "Hopper", "https://example.com/grace.png"),
        (c, solo, "Cher", "", None),
    )
    for client, user, first, last, avatar in cases:
        msg = client.send(task, f"hello from {user.name}", clientMessageId=ctx.uid("c"))
        got = {k: msg.get(k) for k in ("user_id", "first_name", "last_name", "avatar_url")}
        want = {"user_id": user.sub, "first_name": first, "last_name": last, "avatar_url": avatar}
        ctx.expect(got == want, "AUTH-12", f"the message names its sender as {want}", got)
        ctx.expect(bool(msg.get("created_at")) and msg.get("client_message_id") is not None,
                   "MSG-9", "the message carries created_at and its client_message_id", msg)
