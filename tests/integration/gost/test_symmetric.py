"""Kuznyechik and Magma through the GOST provider, in-process: the standards' examples, agreement with
gostcrypto (an independent pure-Python implementation) on random input, and clear errors."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import gostcrypto
import pytest
from gostcrypto.gostcipher.gost_34_12_2015 import GOST34122015Kuznechik, GOST34122015Magma
from hypothesis import given, settings
from hypothesis import strategies as st

from svyaz.gost import load_gost_provider
from svyaz.gost.cipher import kuznyechik_ctr
from svyaz.gost.errors import CryptoError, InvalidKey
from svyaz.gost.symmetric import (
    ACPKM_SECTION_BYTES, Cipher, ctr, ctr_acpkm, decrypt_block, encrypt_block, omac,
)

K, M = Cipher.KUZNYECHIK, Cipher.MAGMA

# GOST R 34.12-2015 / 34.13-2015 appendix A (RFC 7801, RFC 8891): A.1 for Kuznyechik, A.2 for Magma.
KEY_K = bytes.fromhex("8899aabbccddeeff0011223344556677fedcba98765432100123456789abcdef")
KEY_M = bytes.fromhex("ffeeddccbbaa99887766554433221100f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
TEXT_K = bytes.fromhex(
    "1122334455667700ffeeddccbbaa9988" "00112233445566778899aabbcceeff0a"
    "112233445566778899aabbcceeff0a00" "2233445566778899aabbcceeff0a0011")
TEXT_M = bytes.fromhex("92def06b3c130a59db54c704f8189d204a98fb2e67a8024c8912409b17b57e41")

FAST = settings(max_examples=30, deadline=None)  # gostcrypto takes milliseconds per block
keys = st.binary(min_size=32, max_size=32)


@pytest.fixture(scope="module", autouse=True)
def gost():
    load_gost_provider()


@pytest.mark.parametrize(("cipher", "key", "plain", "encrypted"), [
    (K, KEY_K, "1122334455667700ffeeddccbbaa9988", "7f679d90bebc24305a468d42b9d4edcd"),  # RFC 7801
    (M, KEY_M, "fedcba9876543210", "4ee901e5c2d8ca3d"),  # RFC 8891
])
def test_block_matches_the_standards_example(cipher, key, plain, encrypted):
    assert encrypt_block(cipher, key, bytes.fromhex(plain)).hex() == encrypted
    assert decrypt_block(cipher, key, bytes.fromhex(encrypted)).hex() == plain


@pytest.mark.parametrize(("cipher", "key", "iv", "plain", "encrypted"), [
    (K, KEY_K, "1234567890abcef0", TEXT_K,
     "f195d8bec10ed1dbd57b5fa240bda1b8" "85eee733f6a13e5df33ce4b33c45dee4"
     "a5eae88be6356ed3d5e877f13564a3a5" "cb91fab1f20cbab6d1c6d15820bdba73"),  # GOST R 34.13-2015 A.1.2
    (M, KEY_M, "12345678", TEXT_M,
     "4e98110c97b7b93c3e250d93d6e85d69136d868807b2dbef568eb680ab52a12d"),  # GOST R 34.13-2015 A.2.2
])
def test_ctr_matches_gost_r_34_13_2015(cipher, key, iv, plain, encrypted):
    assert ctr(cipher, key, bytes.fromhex(iv), plain).hex() == encrypted
    assert ctr(cipher, key, bytes.fromhex(iv), bytes.fromhex(encrypted)) == plain


@pytest.mark.parametrize(("cipher", "key", "plain", "tag"), [
    (K, KEY_K, TEXT_K, "336f4d296059fbe34ddeb35b37749c67"),  # A.1.6 prints the first 8 bytes
    (M, KEY_M, TEXT_M, "154e72102030c5bb"),  # A.2.6 prints the first 4 bytes
])
def test_omac_matches_gost_r_34_13_2015(cipher, key, plain, tag):
    assert omac(cipher, key, plain).hex() == tag


def test_ctr_acpkm_matches_r_1323565_1_017_2018():
    # The Kuznyechik CTR-ACPKM example (section N = 256 bits) as gost-engine's test_ciphers.c has it:
    # the 64-byte A.1 text plus three more blocks; the first section equals plain CTR.
    plain = TEXT_K + bytes.fromhex(
        "33445566778899aabbcceeff0a001122" "445566778899aabbcceeff0a00112233"
        "5566778899aabbcceeff0a0011223344")
    expected = (
        "f195d8bec10ed1dbd57b5fa240bda1b8" "85eee733f6a13e5df33ce4b33c45dee4"
        "4bceeb8f646f4c55001706275e85e800" "587c4df568d094393e4834afd0805046"
        "cf30f57686aeece11cfc6c316b8a896e" "dffd07ec813636460c4f3b743423163e"
        "6409a9c282fac8d469d221e7fbd6de5d")
    iv = bytes.fromhex("1234567890abcef0")

    assert ctr_acpkm(K, KEY_K, iv, plain, section_bytes=32).hex() == expected
    assert reference_ctr_acpkm(K, KEY_K, iv, plain, 32).hex() == expected


@pytest.mark.parametrize("cipher", [K, M])
def test_ctr_acpkm_uses_the_default_section_across_several_sections(cipher):
    key, iv = bytes(range(32)), bytes(range(cipher.iv_bytes))
    data = bytes(i % 251 for i in range(2 * ACPKM_SECTION_BYTES[cipher] + 40))

    assert ctr_acpkm(cipher, key, iv, data) == reference_ctr_acpkm(cipher, key, iv, data, ACPKM_SECTION_BYTES[cipher])
    # Before the first re-keying it is plain CTR; after it, it is not.
    first = ACPKM_SECTION_BYTES[cipher]
    assert ctr_acpkm(cipher, key, iv, data)[:first] == ctr(cipher, key, iv, data)[:first]
    assert ctr_acpkm(cipher, key, iv, data)[first:] != ctr(cipher, key, iv, data)[first:]


@FAST
@given(key=keys, block=st.binary(min_size=16, max_size=16))
def test_kuznyechik_block_agrees_with_gostcrypto(key, block):
    assert encrypt_block(K, key, block) == bytes(GOST34122015Kuznechik(bytearray(key)).encrypt(bytearray(block)))
    assert decrypt_block(K, key, encrypt_block(K, key, block)) == block


@FAST
@given(key=keys, block=st.binary(min_size=8, max_size=8))
def test_magma_block_agrees_with_gostcrypto(key, block):
    assert encrypt_block(M, key, block) == bytes(GOST34122015Magma(bytearray(key)).encrypt(bytearray(block)))
    assert decrypt_block(M, key, encrypt_block(M, key, block)) == block


@FAST
@given(key=keys, iv=st.binary(min_size=8, max_size=8), data=st.binary(max_size=200))
def test_kuznyechik_ctr_agrees_with_gostcrypto(key, iv, data):
    reference = gostcrypto.gostcipher.new("kuznechik", bytearray(key), gostcrypto.gostcipher.MODE_CTR,
                                          init_vect=bytearray(iv))
    assert ctr(K, key, iv, data) == bytes(reference.encrypt(bytearray(data)))


@FAST
@given(key=keys, data=st.binary(min_size=16, max_size=200))
def test_kuznyechik_omac_agrees_with_gostcrypto(key, data):
    # gostcrypto 1.2.5's MAC fails on 1 to 15 bytes; the short case is checked below.
    reference = gostcrypto.gostcipher.new("kuznechik", bytearray(key), gostcrypto.gostcipher.MODE_MAC,
                                          data=bytearray(data))
    assert omac(K, key, data) == bytes(reference.digest(16))


@FAST
@given(key=keys, data=st.binary(max_size=15))
def test_kuznyechik_omac_of_less_than_a_block_agrees_with_a_reference(key, data):
    assert omac(K, key, data) == reference_omac(K, key, data)


@FAST
@given(key=keys, iv=st.binary(min_size=8, max_size=8), data=st.binary(max_size=160),
       blocks_per_section=st.integers(1, 4))
def test_kuznyechik_ctr_acpkm_agrees_with_a_reference_on_gostcrypto(key, iv, data, blocks_per_section):
    section = blocks_per_section * K.block_bytes
    assert ctr_acpkm(K, key, iv, data, section_bytes=section) == reference_ctr_acpkm(K, key, iv, data, section)


def test_kuznyechik_ctr_is_byte_for_byte_what_the_openssl_binary_wrote():
    # Sealed files on users' disks were written by `openssl enc -kuznyechik-ctr`; they must still open.
    key, iv, data = bytes(range(32)), bytes(range(8)), bytes(range(256)) * 5 + b"tail"
    written = subprocess.run(
        ["openssl", "enc", "-engine", "gost", "-kuznyechik-ctr", "-K", key.hex(), "-iv", iv.hex()],
        input=data, capture_output=True, check=True,
    ).stdout

    assert kuznyechik_ctr(key, iv, data) == written


def test_empty_input_gives_empty_output():
    assert ctr(K, KEY_K, bytes(8), b"") == b""
    assert ctr_acpkm(M, KEY_M, bytes(4), b"") == b""


def test_calls_from_several_threads_do_not_interfere():
    jobs = [(bytes([n]) * 32, bytes([n]) * 8, bytes([n]) * (1000 + n)) for n in range(16)]
    expected = [ctr_acpkm(K, *job) for job in jobs]

    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            assert list(pool.map(lambda job: ctr_acpkm(K, *job), jobs)) == expected


@pytest.mark.parametrize("call", [
    lambda key: ctr(K, key, bytes(8), b"data"),
    lambda key: ctr_acpkm(M, key, bytes(4), b"data"),
    lambda key: omac(K, key, b"data"),
    lambda key: encrypt_block(M, key, bytes(8)),
])
def test_a_key_of_the_wrong_size_is_refused_without_showing_it(call):
    key = bytes.fromhex("c0ffee") * 11  # 33 bytes

    with pytest.raises(InvalidKey, match="key is 32 bytes, got 33") as refused:
        call(key)
    assert key.hex() not in str(refused.value) and "c0ffee" not in str(refused.value)


def test_other_bad_input_is_refused_with_what_was_expected():
    with pytest.raises(InvalidKey, match=r"the IV of kuznyechik-CTR is 8 bytes \(half a block\), got 16"):
        ctr(K, KEY_K, bytes(16), b"data")
    with pytest.raises(InvalidKey, match="the IV of magma-CTR is 4 bytes"):
        ctr_acpkm(M, KEY_M, bytes(8), b"data")
    with pytest.raises(CryptoError, match="kuznyechik works on 16-byte blocks, got 15 bytes"):
        encrypt_block(K, KEY_K, bytes(15))
    with pytest.raises(CryptoError, match="multiple of kuznyechik's 16-byte block, not 24 bytes"):
        ctr_acpkm(K, KEY_K, bytes(8), b"data", section_bytes=24)


def reference_ctr_acpkm(cipher: Cipher, key: bytes, iv: bytes, data: bytes, section: int) -> bytes:
    """CTR-ACPKM (R 1323565.1.017-2018, RFC 8645) on gostcrypto's bare block cipher: the counter runs on
    across sections; after each section the key becomes E_K(D_1) | E_K(D_2) | ..., D = 80 81 .. 9f."""
    n = cipher.block_bytes
    counter = int.from_bytes(iv + bytes(n - len(iv)), "big")
    out = bytearray()
    for start in range(0, len(data), section):
        block_cipher = _gostcrypto_block(cipher, key)
        chunk = data[start:start + section]
        for offset in range(0, len(chunk), n):
            gamma = block_cipher.encrypt(bytearray(counter.to_bytes(n, "big")))
            counter = (counter + 1) % (1 << (8 * n))
            out += bytes(a ^ b for a, b in zip(chunk[offset:offset + n], gamma))
        key = b"".join(bytes(block_cipher.encrypt(bytearray(range(0x80 + i, 0x80 + i + n)))) for i in range(0, 32, n))
    return bytes(out)


def reference_omac(cipher: Cipher, key: bytes, data: bytes) -> bytes:
    """OMAC1 from GOST R 34.13-2015 §5.6 on gostcrypto's bare block cipher (full-block tag)."""
    n, block_cipher = cipher.block_bytes, _gostcrypto_block(cipher, key)
    r = int.from_bytes(block_cipher.encrypt(bytearray(n)), "big")
    mask, poly = (1 << (8 * n)) - 1, 0x87 if n == 16 else 0x1B

    def double(x: int) -> int:
        return ((x << 1) & mask) ^ (poly if x >> (8 * n - 1) else 0)

    k1 = double(r)
    blocks = [data[i:i + n] for i in range(0, len(data), n)] or [b""]
    last = blocks.pop()
    if len(last) == n:
        last_value = int.from_bytes(last, "big") ^ k1
    else:
        last_value = int.from_bytes((last + b"\x80").ljust(n, b"\x00"), "big") ^ double(k1)
    def encrypt(value: int) -> int:
        return int.from_bytes(block_cipher.encrypt(bytearray(value.to_bytes(n, "big"))), "big")

    state = 0
    for block in blocks:
        state = encrypt(state ^ int.from_bytes(block, "big"))
    return encrypt(state ^ last_value).to_bytes(n, "big")


def _gostcrypto_block(cipher: Cipher, key: bytes):
    return (GOST34122015Kuznechik if cipher is K else GOST34122015Magma)(bytearray(key))


def test_loading_the_gost_engine_for_keys_leaves_the_ciphers_to_the_provider():
    # Once the engine is loaded (for GOST R 34.10 keys) it must not take over the provider's ciphers,
    # or CTR-ACPKM refuses its section size. Only a process whose first cipher call comes after the
    # engine shows it, hence a fresh interpreter.
    program = (
        "from svyaz.gost import libcrypto\n"
        "from svyaz.gost.symmetric import Cipher, ctr_acpkm\n"
        "libcrypto.engine()\n"
        "print(ctr_acpkm(Cipher.KUZNYECHIK, bytes(32), bytes(8), bytes(64), section_bytes=32).hex())\n"
    )
    ran = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)

    assert ran.returncode == 0, ran.stderr[-500:]
    assert ran.stdout.strip() == reference_ctr_acpkm(K, bytes(32), bytes(8), bytes(64), 32).hex()
