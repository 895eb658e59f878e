"""The project's AEAD (Kuznyechik CTR-ACPKM + OMAC, encrypt-then-MAC) on the real OpenSSL: it round
trips, it is the construction its docstring spells out, and nothing changed, cut or misplaced opens."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svyaz.gost import aead
from svyaz.gost.aead import NONCE_BYTES, TAG_BYTES, Aead, NonceSequence
from svyaz.gost.errors import AuthenticationFailed, CryptoError, InvalidKey
from svyaz.gost.kdf import kdf_tree_256
from svyaz.gost.symmetric import Cipher, ctr_acpkm, omac

KEY = bytes(range(32))
NONCE = bytes.fromhex("00112233445566778899aabbccddeeff")
AD = b"chat:42|seq:7"
PLAINTEXT = b"Meet at the station at nine; bring the documents."
FROZEN_V1 = (  # Aead(KEY).seal(NONCE, PLAINTEXT, AD), computed once with this module
    "5ad8e49c383e3dd2faa6ddad7d26ee5b6a610bd45249ecf6328ab934cd84dfed77"
    "c24804d9ddaee594f762e62724dd99f547fe0c9083c6450e8966e1d38d9f8f3e")


def test_seal_then_open_gives_the_plaintext_back():
    box = Aead(KEY)
    sealed = box.seal(NONCE, PLAINTEXT, AD)

    assert len(sealed) == len(PLAINTEXT) + TAG_BYTES
    assert PLAINTEXT not in sealed
    assert box.open(NONCE, sealed, AD) == PLAINTEXT
    assert Aead(KEY).open(NONCE, sealed, AD) == PLAINTEXT  # only the key, nonce and ad are needed


def test_seal_is_the_construction_the_module_documents():
    subkeys = kdf_tree_256(KEY, b"svyaz aead v1", NONCE, 64)
    ciphertext = ctr_acpkm(Cipher.KUZNYECHIK, subkeys[:32], bytes(8), PLAINTEXT)
    tag = omac(Cipher.KUZNYECHIK, subkeys[32:], len(AD).to_bytes(8, "big") + AD + ciphertext)

    assert Aead(KEY).seal(NONCE, PLAINTEXT, AD) == ciphertext + tag


def test_seal_output_is_frozen_for_version_1():
    # Sealed messages are stored and sent: a change of output is a new version, never an accident.
    assert Aead(KEY).seal(NONCE, PLAINTEXT, AD).hex() == FROZEN_V1


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 4095, 4096, 4097, 3 * 4096 + 5])
def test_round_trip_across_block_and_acpkm_section_boundaries(length):
    plaintext = bytes(i % 256 for i in range(length))
    box = Aead(KEY)

    assert box.open(NONCE, box.seal(NONCE, plaintext), b"") == plaintext


def test_empty_plaintext_still_authenticates_the_associated_data():
    sealed = Aead(KEY).seal(NONCE, b"", AD)

    assert len(sealed) == TAG_BYTES
    assert Aead(KEY).open(NONCE, sealed, AD) == b""
    with pytest.raises(AuthenticationFailed):
        Aead(KEY).open(NONCE, sealed, b"chat:42|seq:8")


@settings(max_examples=30, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), nonce=st.binary(min_size=16, max_size=16),
       plaintext=st.binary(max_size=300), ad=st.binary(max_size=50))
def test_round_trip_on_random_input(key, nonce, plaintext, ad):
    box = Aead(key)
    assert box.open(nonce, box.seal(nonce, plaintext, ad), ad) == plaintext


def test_every_single_bit_flip_anywhere_fails_to_open():
    box = Aead(KEY)
    sealed = box.seal(NONCE, PLAINTEXT[:24], AD)  # 24 bytes of ciphertext, then the tag

    for name, original in [("sealed", sealed), ("ad", AD), ("nonce", NONCE)]:
        for bit in range(len(original) * 8):
            flipped = bytearray(original)
            flipped[bit // 8] ^= 1 << (bit % 8)
            inputs = {"sealed": sealed, "ad": AD, "nonce": NONCE, name: bytes(flipped)}
            with pytest.raises(AuthenticationFailed):
                box.open(inputs["nonce"], inputs["sealed"], inputs["ad"])


def test_every_truncation_fails_to_open():
    box = Aead(KEY)
    sealed = box.seal(NONCE, PLAINTEXT, AD)

    for length in range(len(sealed)):
        with pytest.raises(AuthenticationFailed):
            box.open(NONCE, sealed[:length], AD)


def test_moving_bytes_between_ad_and_ciphertext_fails():
    # The ad's length is authenticated, so ad="ab", ct="c..." cannot pass as ad="a", ct="bc...".
    box = Aead(KEY)
    sealed = box.seal(NONCE, b"", b"ab")
    with pytest.raises(AuthenticationFailed):
        box.open(NONCE, b"b" + sealed, b"a")


def test_another_key_fails_to_open():
    sealed = Aead(KEY).seal(NONCE, PLAINTEXT, AD)
    with pytest.raises(AuthenticationFailed, match="does not authenticate"):
        Aead(bytes(32)).open(NONCE, sealed, AD)


def test_nothing_is_decrypted_before_the_tag_checks(monkeypatch):
    decrypted = []
    real_ctr_acpkm = aead.ctr_acpkm
    monkeypatch.setattr(aead, "ctr_acpkm", lambda *args: decrypted.append(args) or real_ctr_acpkm(*args))
    sealed = bytearray(Aead(KEY).seal(NONCE, PLAINTEXT, AD))
    decrypted.clear()
    sealed[0] ^= 1

    with pytest.raises(AuthenticationFailed):
        Aead(KEY).open(NONCE, bytes(sealed), AD)
    assert decrypted == []


def test_a_key_of_the_wrong_size_is_refused_without_showing_it():
    key = bytes.fromhex("5ec2e7") * 10  # 30 bytes

    with pytest.raises(InvalidKey, match="an AEAD key is 32 bytes, got 30") as refused:
        Aead(key)
    assert "5ec2e7" not in str(refused.value)
    assert "5ec2e7" not in repr(Aead(bytes.fromhex("5ec2e7") * 10 + b"xy")).lower()


def test_a_nonce_of_the_wrong_size_is_refused():
    with pytest.raises(CryptoError, match="nonce is 16 bytes, got 12"):
        Aead(KEY).seal(bytes(12), PLAINTEXT)


def test_nonce_sequence_counts_up_after_its_prefix():
    sequence = NonceSequence(prefix=b"\xaa" * 8, start=255)

    assert sequence.next() == b"\xaa" * 8 + (255).to_bytes(8, "big")
    assert sequence.next() == b"\xaa" * 8 + (256).to_bytes(8, "big")
    assert len(sequence.next()) == NONCE_BYTES


def test_nonce_sequences_get_different_random_prefixes():
    assert NonceSequence().next()[:8] != NonceSequence().next()[:8]


def test_nonce_sequence_never_repeats_across_threads():
    sequence = NonceSequence()

    with ThreadPoolExecutor(max_workers=8) as pool:
        batches = list(pool.map(lambda _: [sequence.next() for _ in range(2000)], range(8)))
    nonces = [nonce for batch in batches for nonce in batch]

    assert len(set(nonces)) == len(nonces) == 16_000


def test_nonce_sequence_is_used_up_cleanly_and_stays_used_up():
    sequence = NonceSequence(prefix=bytes(8), start=2**64 - 2)

    assert sequence.next()[8:] == b"\xff" * 7 + b"\xfe"
    assert sequence.next()[8:] == b"\xff" * 8
    for _ in range(2):
        with pytest.raises(CryptoError, match="nonce sequence is used up"):
            sequence.next()


def test_nonce_sequence_refuses_a_bad_prefix_or_start():
    with pytest.raises(CryptoError, match="prefix is 8 bytes, got 4"):
        NonceSequence(prefix=bytes(4))
    with pytest.raises(CryptoError, match="starts between 0 and 2\\*\\*64 - 1, not at -1"):
        NonceSequence(start=-1)
    with pytest.raises(CryptoError):
        NonceSequence(start=2**64)

