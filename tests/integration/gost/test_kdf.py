"""HMAC-Streebog, PBKDF2 and the RFC 7836 KDFs on OpenSSL: the standards' examples, agreement with
gostcrypto, and clear errors. (test_provider checks hashlib itself; this checks `svyaz.gost.kdf`.)"""

from __future__ import annotations

import gostcrypto
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svyaz.gost.errors import CryptoError
from svyaz.gost.kdf import hmac_streebog256, hmac_streebog512, kdf_256, kdf_tree_256, pbkdf2_streebog512

# RFC 7836's examples (also in R 50.1.113-2016): the key, label and seed of its KDF examples.
KEY = bytes(range(32))
LABEL = bytes.fromhex("26bdb878")
SEED = bytes.fromhex("af21434145656378")
KDF_256 = "a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9"
KDF_TREE_512 = (
    "22b6837845c6bef65ea71672b265831086d3c76aebe6dae91cad51d83f79d16b"
    "074c9330599d7f8d712fca54392f4ddde93751206b3584c8f43f9e6dc51531f9")


def test_hmac_streebog_matches_rfc7836():
    # KDF_256's HMAC input: 01 | label | 00 | seed | 01 00, which is RFC 7836's HMAC example message.
    message = b"\x01" + LABEL + b"\x00" + SEED + b"\x01\x00"

    assert hmac_streebog256(KEY, message).hex() == KDF_256
    assert hmac_streebog512(KEY, message).hex() == (
        "a59bab22ecae19c65fbde6e5f4e9f5d8549d31f037f9df9b905500e171923a77"
        "3d5f1530f2ed7e964cb2eedc29e9ad2f3afe93b2814f79f5000ffc0366c251e6")


def test_kdf_256_matches_rfc7836():
    assert kdf_256(KEY, LABEL, SEED).hex() == KDF_256


def test_kdf_tree_256_matches_rfc7836():
    assert kdf_tree_256(KEY, LABEL, SEED, 64, r=1).hex() == KDF_TREE_512
    assert kdf_tree_256(KEY, LABEL, SEED, 32) == kdf_256(KEY, LABEL, SEED)


def test_kdf_tree_256_cuts_the_output_but_the_length_is_part_of_the_input():
    # [L] is hashed, so a shorter output is not a prefix of a longer one.
    assert len(kdf_tree_256(KEY, LABEL, SEED, 40)) == 40
    assert kdf_tree_256(KEY, LABEL, SEED, 40) != kdf_tree_256(KEY, LABEL, SEED, 64)[:40]


@pytest.mark.parametrize(("password", "salt", "iterations", "length", "expected"), [
    (b"password", b"salt", 1, 64,
     "64770af7f748c3b1c9ac831dbcfd85c26111b30a8a657ddc3056b80ca73e040d"
     "2854fd36811f6d825cc4ab66ec0a68a490a9e5cf5156b3a2b7eecddbf9a16b47"),
    (b"password", b"salt", 2, 64,
     "5a585bafdfbb6e8830d6d68aa3b43ac00d2e4aebce01c9b31c2caed56f0236d4"
     "d34b2b8fbd2c4e89d54d46f50e47d45bbac301571743119e8d3c42ba66d348de"),
    (b"password", b"salt", 4096, 64,
     "e52deb9a2d2aaff4e2ac9d47a41f34c20376591c67807f0477e32549dc341bc7"
     "867c09841b6d58e29d0347c996301d55df0d34e47cf68f4e3c2cdaf1d9ab86c3"),
    (b"passwordPASSWORDpassword", b"saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 100,
     "b2d8f1245fc4d29274802057e4b54e0a0753aa22fc53760b301cf008679e58fe"
     "4bee9addcae99ba2b0b20f431a9c5e50f395c89387d0945aedeca6eb4015dfc2"
     "bd2421ee9bb71183ba882ceebfef259f33f9e27dc6178cb89dc37428cf9cc52a"
     "2baa2d3a"),
    (b"pass\x00word", b"sa\x00lt", 4096, 64,
     "50df062885b69801a3c10248eb0a27ab6e522ffeb20c991c660f001475d73a4e"
     "167f782c18e97e92976d9c1d970831ea78ccb879f67068cdac1910740844e830"),
], ids=["1-iteration", "2-iterations", "4096-iterations", "long-inputs-100-bytes", "zero-bytes-inside"])
def test_pbkdf2_streebog512_matches_r_50_1_111_2016(password, salt, iterations, length, expected):
    assert pbkdf2_streebog512(password, salt, iterations, length).hex() == expected


@settings(max_examples=30, deadline=None)
@given(key=st.binary(max_size=64), data=st.binary(max_size=300))  # gostcrypto takes keys up to 64 bytes
def test_hmac_streebog_agrees_with_gostcrypto(key, data):
    assert hmac_streebog256(key, data) == gostcrypto_hmac("HMAC_GOSTR3411_2012_256", key, data)
    assert hmac_streebog512(key, data) == gostcrypto_hmac("HMAC_GOSTR3411_2012_512", key, data)


@settings(max_examples=30, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), label=st.binary(max_size=20), seed=st.binary(max_size=20),
       length=st.integers(1, 100), r=st.integers(1, 4))
def test_kdf_tree_256_agrees_with_rfc7836_built_on_gostcrypto(key, label, seed, length, r):
    bits = length * 8
    encoded_length = bits.to_bytes((bits.bit_length() + 7) // 8, "big")
    blocks = [
        gostcrypto_hmac("HMAC_GOSTR3411_2012_256", key, i.to_bytes(r, "big") + label + b"\x00" + seed + encoded_length)
        for i in range(1, -(-length // 32) + 1)
    ]
    assert kdf_tree_256(key, label, seed, length, r) == b"".join(blocks)[:length]


def test_bad_parameters_are_refused_with_what_was_expected():
    with pytest.raises(CryptoError, match="at least one iteration, got 0"):
        pbkdf2_streebog512(b"p", b"s", 0, 32)
    with pytest.raises(CryptoError, match="at least one byte, got a length of 0"):
        pbkdf2_streebog512(b"p", b"s", 1, 0)
    with pytest.raises(CryptoError, match="counter is 1 to 4 bytes long .*got 5"):
        kdf_tree_256(KEY, LABEL, SEED, 32, r=5)
    with pytest.raises(CryptoError, match="1-byte counter derives at most 8160 bytes, 8161 were asked for"):
        kdf_tree_256(KEY, LABEL, SEED, 8161, r=1)


def gostcrypto_hmac(name: str, key: bytes, data: bytes) -> bytes:
    # Through update(): gostcrypto 1.2.5 skips `data=b""` given to new(), and the inner pad with it.
    mac = gostcrypto.gosthmac.new(name, key)
    mac.update(data)
    return mac.digest()
