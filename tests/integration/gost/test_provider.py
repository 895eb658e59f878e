"""Streebog, HMAC-Streebog and PBKDF2 from the system OpenSSL with Debian's GOST provider,
checked against the standards' vectors and against gostcrypto, an independent implementation."""

from __future__ import annotations

import hashlib
import hmac
import random

import gostcrypto
import pytest

from svyaz.gost import load_gost_provider, streebog256, streebog512
from svyaz.gost.provider import RFC6986_M1, RFC6986_M1_256, RFC6986_M1_512


@pytest.fixture(scope="module", autouse=True)
def gost():
    load_gost_provider()


def test_streebog_matches_rfc6986_example_1():
    assert streebog256(RFC6986_M1).hex() == RFC6986_M1_256
    assert streebog512(RFC6986_M1).hex() == RFC6986_M1_512


def test_hmac_streebog_matches_rfc7836():
    key = bytes(range(32))
    message = bytes.fromhex("0126bdb87800af214341456563780100")

    assert hmac.new(key, message, "md_gost12_256").hexdigest() == (
        "a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9")
    assert hmac.new(key, message, "md_gost12_512").hexdigest() == (
        "a59bab22ecae19c65fbde6e5f4e9f5d8549d31f037f9df9b905500e171923a77"
        "3d5f1530f2ed7e964cb2eedc29e9ad2f3afe93b2814f79f5000ffc0366c251e6")


def test_pbkdf2_hmac_streebog512_matches_r_50_1_111_2016():
    derived = hashlib.pbkdf2_hmac("md_gost12_512", b"password", b"salt", 1, 64)

    assert derived.hex() == (
        "64770af7f748c3b1c9ac831dbcfd85c26111b30a8a657ddc3056b80ca73e040d"
        "2854fd36811f6d825cc4ab66ec0a68a490a9e5cf5156b3a2b7eecddbf9a16b47")


@pytest.mark.parametrize("seed", range(3))
def test_openssl_and_gostcrypto_agree_on_random_messages(seed):
    rng = random.Random(seed)
    for length in [0, 1, 63, 64, 65, 127, 128, 129, rng.randrange(200, 5000)]:
        message = rng.randbytes(length)

        assert streebog256(message) == gostcrypto.gosthash.new("streebog256", data=message).digest()
        assert streebog512(message) == gostcrypto.gosthash.new("streebog512", data=message).digest()


def test_openssl_and_gostcrypto_agree_on_pbkdf2_with_more_iterations():
    ours = hashlib.pbkdf2_hmac("md_gost12_512", b"correct horse", b"per-user salt", 50, 64)
    reference = gostcrypto.gostpbkdf.new(b"correct horse", salt=b"per-user salt", counter=50).derive(64)

    assert ours == reference
