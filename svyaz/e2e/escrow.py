"""Escrow for secret chats in regions whose policy requires it: each message key is also wrapped
for the region's lawful-access key, whose private half exists only as shares held by officers.

Wrapping (one per message, by the sender's device):

    E   = a fresh GOST R 34.10-2012 key;  ukm = 8 random bytes
    KEK = VKO(E, escrow public key, ukm)                          (RFC 7836)
    blob = version | escrow key id (8) | ukm (8) | E public (64) | AEAD(KEK, message key, context)

The context (chat, sender, message counter) is authenticated, so a wrapped key cannot be moved to
another message. Opening needs the escrow private key, which `split` cuts into n Shamir shares
over the curve's prime subgroup order q, any k of which (`combine`) rebuild it; fewer reveal
nothing. Who may combine shares, and when, is the lawful-access workflow's business (two officers'
approvals); this module is only the mathematics.

The node cannot check that a device wrapped the right key (that would need verifiable encryption);
it checks that a wrap is there, for the current escrow key. A recipient sees the wrap in the
message's associated data, so what it accepted is what the node stores.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass

from svyaz.e2e.envelope import ESCROW_WRAP_BYTES, PUBLIC_KEY_BYTES
from svyaz.e2e.errors import SecretChatError
from svyaz.gost import streebog256
from svyaz.gost.aead import NONCE_BYTES, Aead
from svyaz.gost.errors import AuthenticationFailed, InvalidKey
from svyaz.gost.keys import Curve, PrivateKey, PublicKey

CURVE = Curve.TC26_256_A
# The prime order of the paramSetA 256-bit curve's subgroup (R 1323565.1.024-2019; RFC 7836 A.2).
SUBGROUP_ORDER = 0x400000000000000000000000000000000FD8CDDFC87B6635C115AF556C360C67
VERSION = 1
KEY_ID_BYTES = 8
_HEAD = struct.Struct(f">B{KEY_ID_BYTES}s8s{PUBLIC_KEY_BYTES}s")
WRAPPED_BYTES = ESCROW_WRAP_BYTES  # _HEAD, then a 32-byte key sealed with a 16-byte tag
MAX_SHARES = 255


class EscrowError(SecretChatError):
    code = "secret_escrow_error"


@dataclass(frozen=True)
class Share:
    """One officer's share of the escrow key: (x, y) on the sharing polynomial, and which key."""

    key_id: str
    threshold: int
    x: int
    y: int

    def to_dict(self) -> dict[str, object]:
        return {"key_id": self.key_id, "threshold": self.threshold, "x": self.x, "y": f"{self.y:064x}"}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Share:
        try:
            return cls(key_id=str(data["key_id"]), threshold=int(data["threshold"]),  # type: ignore[arg-type]
                       x=int(data["x"]), y=int(str(data["y"]), 16))  # type: ignore[arg-type]
        except (KeyError, ValueError, TypeError):
            raise EscrowError("not an escrow key share (key_id, threshold, x, y)") from None


def key_id(public_key: PublicKey) -> str:
    return streebog256(public_key.to_bytes())[:KEY_ID_BYTES].hex()


def split(private_key: PrivateKey, *, threshold: int, shares: int) -> list[Share]:
    """`shares` Shamir shares of `private_key`, any `threshold` of which rebuild it."""
    if not 2 <= threshold <= shares <= MAX_SHARES:
        raise EscrowError(f"need 2 <= threshold <= shares <= {MAX_SHARES}; got {threshold} of {shares}")
    secret = int.from_bytes(private_key.to_bytes(), "little")
    coefficients = [secret] + [secrets.randbelow(SUBGROUP_ORDER) for _ in range(threshold - 1)]
    identifier = key_id(private_key.public_key())
    return [Share(identifier, threshold, x, _evaluate(coefficients, x)) for x in range(1, shares + 1)]


def combine(shares: list[Share]) -> PrivateKey:
    """The escrow private key from at least `threshold` distinct shares of one key."""
    if not shares:
        raise EscrowError("no shares given")
    key_ids, thresholds = {share.key_id for share in shares}, {share.threshold for share in shares}
    if len(key_ids) != 1 or len(thresholds) != 1:
        raise EscrowError("the shares belong to different escrow keys")
    xs = [share.x for share in shares]
    if len(set(xs)) != len(xs) or not all(0 < x < SUBGROUP_ORDER for x in xs):
        raise EscrowError("the same share was given twice, or a share is malformed")
    (threshold,) = thresholds
    if len(shares) < threshold:
        raise EscrowError(f"{len(shares)} shares given; this key needs {threshold}")
    secret = 0
    for share in shares[:threshold]:
        weight = 1
        for other in shares[:threshold]:
            if other.x != share.x:
                weight = weight * other.x * pow(other.x - share.x, -1, SUBGROUP_ORDER) % SUBGROUP_ORDER
        secret = (secret + share.y * weight) % SUBGROUP_ORDER
    try:
        private_key = PrivateKey.from_bytes(secret.to_bytes(32, "little"), CURVE)
    except InvalidKey:
        raise EscrowError("the shares do not rebuild a valid key (a corrupted share?)") from None
    if key_id(private_key.public_key()) != next(iter(key_ids)):
        raise EscrowError("the shares do not rebuild the escrow key they name (a corrupted share?)")
    return private_key


def wrap(message_key: bytes, escrow_key: PublicKey, *, context: bytes) -> bytes:
    """`message_key` sealed for the holder of the escrow private key."""
    ephemeral = PrivateKey.generate(CURVE)
    ukm = _nonzero(8)
    kek = ephemeral.agree(escrow_key, ukm)
    head = _HEAD.pack(VERSION, bytes.fromhex(key_id(escrow_key)), ukm, ephemeral.public_key().to_bytes())
    return head + Aead(kek).seal(bytes(NONCE_BYTES), message_key, head + context)


def unwrap(blob: bytes, escrow_private: PrivateKey, *, context: bytes) -> bytes:
    """The message key inside `blob`; EscrowError if it is not for this key or was altered."""
    if len(blob) != WRAPPED_BYTES:
        raise EscrowError(f"an escrow wrap is {WRAPPED_BYTES} bytes; got {len(blob)}")
    version, wrapped_for, ukm, ephemeral = _HEAD.unpack_from(blob)
    if version != VERSION or wrapped_for.hex() != key_id(escrow_private.public_key()):
        raise EscrowError("this message key is wrapped for another escrow key")
    try:
        kek = escrow_private.agree(PublicKey.from_bytes(ephemeral, CURVE), ukm)
        return Aead(kek).open(bytes(NONCE_BYTES), blob[_HEAD.size:], blob[:_HEAD.size] + context)
    except (InvalidKey, AuthenticationFailed):
        raise EscrowError("the escrow wrap does not open: altered, or moved from another message") from None


def wrapped_key_id(blob: bytes) -> str:
    """Which escrow key a wrap is for (what the node checks); EscrowError if it is no wrap."""
    if len(blob) != WRAPPED_BYTES or blob[0] != VERSION:
        raise EscrowError(f"an escrow wrap is {WRAPPED_BYTES} bytes of version {VERSION}")
    return blob[1:1 + KEY_ID_BYTES].hex()


def _evaluate(coefficients: list[int], x: int) -> int:
    result = 0
    for coefficient in reversed(coefficients):
        result = (result * x + coefficient) % SUBGROUP_ORDER
    return result


def _nonzero(size: int) -> bytes:
    while not any(value := secrets.token_bytes(size)):
        pass
    return value
