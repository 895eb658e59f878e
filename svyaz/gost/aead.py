"""Svyaz's authenticated encryption: Kuznyechik-CTR-ACPKM, then Kuznyechik-OMAC (encrypt-then-MAC).

Why this construction rather than MGM or the engine's own AEAD-like cipher: docs/adr/0004.

For each message, under the long-term 32-byte `key` and a 16-byte `nonce`:

    K_enc | K_mac = KDF_TREE_GOSTR3411_2012_256(key, label=b"svyaz aead v1", seed=nonce, length=64)
    ciphertext    = Kuznyechik-CTR-ACPKM(K_enc, IV = 8 zero bytes, plaintext)
    tag           = Kuznyechik-OMAC(K_mac, be64(len(ad)) | ad | ciphertext)        (16 bytes)
    sealed        = ciphertext | tag

- Every nonce gives its own pair of subkeys, so the fixed all-zero IV never meets the same
  encryption key twice as long as nonces do not repeat under one key; the subkeys are independent,
  so the MAC key never encrypts and the encryption key never authenticates.
- The associated data's length is in the MAC input, so no split between `ad` and the ciphertext
  gives the same tag input for two different (ad, ciphertext) pairs.
- `open` checks the tag (constant time) before it decrypts anything, and says only that the input
  does not authenticate: a changed ciphertext, tag, ad or nonce, a truncation and a wrong key all
  look the same.
- Reusing a nonce under one key is a mistake but not a catastrophe: both messages get the same
  subkeys, so they leak what CTR leaks for a repeated IV (the XOR of the plaintexts) and nothing
  about the key or other messages, and forging still needs the MAC key. `NonceSequence` makes
  nonces that cannot repeat for one sender.
"""

from __future__ import annotations

import hmac
import secrets
import threading

from svyaz.gost.errors import AuthenticationFailed, CryptoError, InvalidKey
from svyaz.gost.kdf import kdf_tree_256
from svyaz.gost.symmetric import Cipher, ctr_acpkm, omac

KEY_BYTES = 32
NONCE_BYTES = 16
TAG_BYTES = 16
LABEL = b"svyaz aead v1"
_SUBKEY_BYTES = 32
_ZERO_IV = bytes(Cipher.KUZNYECHIK.iv_bytes)


class Aead:
    """Seal and open messages under one 32-byte key. Stateless after construction: thread-safe."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise InvalidKey(f"an AEAD key is {KEY_BYTES} bytes, got {len(key)}")
        self._key = bytes(key)

    def __repr__(self) -> str:
        return "Aead(key=<hidden>)"

    def seal(self, nonce: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
        """`plaintext` encrypted and, with `associated_data`, authenticated: ciphertext | 16-byte tag."""
        enc_key, mac_key = self._subkeys(nonce)
        ciphertext = ctr_acpkm(Cipher.KUZNYECHIK, enc_key, _ZERO_IV, plaintext)
        return ciphertext + _tag(mac_key, associated_data, ciphertext)

    def open(self, nonce: bytes, sealed: bytes, associated_data: bytes = b"") -> bytes:
        """The plaintext, or AuthenticationFailed if anything about the input is not what was sealed."""
        if len(sealed) < TAG_BYTES:
            raise AuthenticationFailed(
                f"a sealed message is at least {TAG_BYTES} bytes (the tag), got {len(sealed)}: truncated?"
            )
        enc_key, mac_key = self._subkeys(nonce)
        ciphertext, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
        if not hmac.compare_digest(tag, _tag(mac_key, associated_data, ciphertext)):
            raise AuthenticationFailed(
                "the message does not authenticate: changed, truncated, "
                "or sealed with another key, nonce or associated data"
            )
        return ctr_acpkm(Cipher.KUZNYECHIK, enc_key, _ZERO_IV, ciphertext)

    def _subkeys(self, nonce: bytes) -> tuple[bytes, bytes]:
        if len(nonce) != NONCE_BYTES:
            raise CryptoError(f"an AEAD nonce is {NONCE_BYTES} bytes, got {len(nonce)}")
        material = kdf_tree_256(self._key, LABEL, nonce, 2 * _SUBKEY_BYTES)
        return material[:_SUBKEY_BYTES], material[_SUBKEY_BYTES:]


def _tag(mac_key: bytes, associated_data: bytes, ciphertext: bytes) -> bytes:
    return omac(Cipher.KUZNYECHIK, mac_key, len(associated_data).to_bytes(8, "big") + associated_data + ciphertext)


class NonceSequence:
    """Nonces that cannot repeat: a random 8-byte prefix, then a 64-bit big-endian counter.

    One sequence per sender and key. The counter makes a repeat within one sequence impossible
    rather than unlikely; the random prefix makes two sequences under one key (two senders, or two
    runs of one) collide only with the chance of a 64-bit birthday. Thread-safe.
    """

    PREFIX_BYTES = 8
    _COUNTER_LIMIT = 1 << 64

    def __init__(self, prefix: bytes | None = None, start: int = 0) -> None:
        if prefix is None:
            prefix = secrets.token_bytes(self.PREFIX_BYTES)
        if len(prefix) != self.PREFIX_BYTES:
            raise CryptoError(f"a nonce prefix is {self.PREFIX_BYTES} bytes, got {len(prefix)}")
        if not 0 <= start < self._COUNTER_LIMIT:
            raise CryptoError(f"a nonce counter starts between 0 and 2**64 - 1, not at {start}")
        self._prefix = bytes(prefix)
        self._next = start
        self._lock = threading.Lock()

    def next(self) -> bytes:
        """The next nonce; CryptoError once all 2**64 counter values of this prefix are used."""
        with self._lock:
            counter = self._next
            if counter >= self._COUNTER_LIMIT:
                raise CryptoError("this nonce sequence is used up; start a new one with a new prefix or a new key")
            self._next = counter + 1
        return self._prefix + counter.to_bytes(8, "big")
