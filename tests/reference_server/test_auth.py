"""Token verification: what is accepted and which code each refusal carries (CONTRACT §2, §10)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from taskchat.reference_server.auth import AuthFailure, Verifier, make_token
from taskchat.schemas import ErrorCode
from taskchat.schemas.validation import validate

SECRET = "s3cret-for-tests-0123456789abcdef"


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def code_of(verifier: Verifier, token: object) -> str:
    with pytest.raises(AuthFailure) as err:
        verifier.verify(token)
    assert validate("connect/connect_error.json", err.value.payload()) == []
    return err.value.code


def test_good_hs256_token_gives_the_identity() -> None:
    v = Verifier(secret=SECRET)
    who = v.verify(make_token(SECRET, "u1", name="Ada Lovelace King", admin=True))
    assert (who.user_id, who.name, who.first_name, who.last_name) == (
        "u1", "Ada Lovelace King", "Ada", "Lovelace King",
    )
    assert who.avatar_url is None and who.admin is True


def test_names_from_first_and_last_name_and_avatar() -> None:
    v = Verifier(secret=SECRET)
    token = make_token(
        SECRET, "u2", extra={"first_name": "Grace", "last_name": "Hopper", "avatar_url": "https://a/x.png"}
    )
    who = v.verify(token)
    assert (who.name, who.first_name, who.last_name) == ("Grace Hopper", "Grace", "Hopper")
    assert who.avatar_url == "https://a/x.png" and who.admin is False
    single = v.verify(make_token(SECRET, "u3", name="Plato"))
    assert (single.first_name, single.last_name) == ("Plato", "")


def test_a_token_without_exp_is_accepted() -> None:
    assert Verifier(secret=SECRET).verify(make_token(SECRET, "u", ttl=None)).user_id == "u"


@pytest.mark.parametrize("auth", [None, {}, {"token": None}, {"token": ""}, "not-a-dict"])
def test_missing_token_is_auth_required(auth: object) -> None:
    with pytest.raises(AuthFailure) as err:
        Verifier(secret=SECRET).verify_auth(auth)
    assert err.value.code == ErrorCode.AUTH_REQUIRED


def test_refusals_carry_the_contract_codes() -> None:
    v = Verifier(secret=SECRET)
    now = int(time.time())
    assert code_of(v, 42) == ErrorCode.AUTH_INVALID
    assert code_of(v, {"a": 1}) == ErrorCode.AUTH_INVALID
    assert code_of(v, "garbage") == ErrorCode.AUTH_INVALID
    assert code_of(v, make_token("other-secret-0123456789abcdef012", "u")) == ErrorCode.AUTH_INVALID
    hs512 = jwt.encode({"sub": "u"}, SECRET * 2, algorithm="HS512")
    assert code_of(Verifier(secret=SECRET * 2), hs512) == ErrorCode.AUTH_INVALID
    assert code_of(v, jwt.encode({"sub": "u"}, None, algorithm="none")) == ErrorCode.AUTH_INVALID
    assert code_of(v, make_token(SECRET, "u", ttl=-1)) == ErrorCode.AUTH_EXPIRED
    assert code_of(v, make_token(SECRET, "u", extra={"nbf": now + 60})) == ErrorCode.AUTH_INVALID
    assert code_of(v, jwt.encode({"name": "x"}, SECRET, algorithm="HS256")) == ErrorCode.AUTH_INVALID
    assert code_of(v, jwt.encode({"sub": 7}, SECRET, algorithm="HS256")) == ErrorCode.AUTH_INVALID


def test_rs256_with_the_public_key_and_no_algorithm_confusion(rsa_keys: tuple[bytes, str]) -> None:
    private, public = rsa_keys
    v = Verifier(secret=SECRET, public_key=public)
    assert v.verify(jwt.encode({"sub": "r"}, private, algorithm="RS256")).user_id == "r"
    assert v.verify(make_token(SECRET, "h")).user_id == "h"
    rs_only = Verifier(public_key=public)
    assert code_of(rs_only, make_token(SECRET, "h")) == ErrorCode.AUTH_INVALID
    # the classic confusion attack: HS256 keyed with the public key's text
    head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(b'{"sub":"evil"}').rstrip(b"=")
    mac = hmac.new(public.encode(), head + b"." + body, hashlib.sha256).digest()
    forged = b".".join([head, body, base64.urlsafe_b64encode(mac).rstrip(b"=")]).decode()
    assert code_of(rs_only, forged) == ErrorCode.AUTH_INVALID


def test_the_token_command_mints_what_the_server_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    from taskchat.cli import main

    assert main(["token", "--sub", "cli-user", "--name", "Cli User", "--admin", "--jwt-secret", SECRET]) == 0
    who = Verifier(secret=SECRET).verify(capsys.readouterr().out.strip())
    assert (who.user_id, who.name, who.admin) == ("cli-user", "Cli User", True)
    assert main(["token", "--sub", "forever", "--ttl", "0", "--jwt-secret", SECRET]) == 0
    assert "exp" not in jwt.decode(capsys.readouterr().out.strip(), SECRET, algorithms=["HS256"])
