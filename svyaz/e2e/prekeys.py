"""A device's secret-chat keys, and the public bundle others start a secret chat from.

Each device holds an identity key (GOST R 34.10-2012, 256-bit, paramset A), one signed prekey
(rotated now and then; its public half is signed by the identity key) and a stock of one-time
prekeys. The node publishes the public halves; whoever starts a chat claims one one-time prekey,
which the node hands out once and this device deletes once used.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass, field
from typing import Any

from svyaz.e2e.errors import BadBundle
from svyaz.gost.errors import InvalidKey
from svyaz.gost.keys import Curve, PrivateKey, PublicKey

CURVE = Curve.TC26_256_A
ONE_TIME_STOCK = 100
_SIGNED_PREKEY_CONTEXT = b"svyaz signed prekey v1"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise BadBundle(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise BadBundle(f"{what} is not valid base64") from None


def signed_prekey_statement(prekey_id: int, public_key: bytes) -> bytes:
    """What the identity key signs: the prekey and its id, under a context no other signature uses."""
    return _SIGNED_PREKEY_CONTEXT + struct.pack(">I", prekey_id) + public_key


@dataclass
class DeviceKeys:
    """The private keys of one device. Mutable: one-time prekeys are spent and topped up."""

    identity: PrivateKey
    signed_prekey_id: int
    signed_prekey: PrivateKey
    one_time: dict[int, PrivateKey] = field(default_factory=dict)
    next_one_time_id: int = 1

    @classmethod
    def create(cls, one_time: int = ONE_TIME_STOCK) -> DeviceKeys:
        keys = cls(identity=PrivateKey.generate(CURVE), signed_prekey_id=1, signed_prekey=PrivateKey.generate(CURVE))
        keys.top_up(one_time)
        return keys

    def top_up(self, count: int) -> dict[int, PrivateKey]:
        """`count` new one-time prekeys, kept here and returned for publishing."""
        fresh = {self.next_one_time_id + n: PrivateKey.generate(CURVE) for n in range(count)}
        self.one_time.update(fresh)
        self.next_one_time_id += count
        return fresh

    def take_one_time(self, prekey_id: int) -> PrivateKey | None:
        """The one-time prekey `prekey_id`, deleted as it is handed out; None if spent or unknown."""
        return self.one_time.pop(prekey_id, None)

    def public_bundle(self, one_time: dict[int, PrivateKey] | None = None) -> dict[str, Any]:
        """The wire form of `keys.publish`: identity, signed prekey, and the given (or all) one-time prekeys."""
        signed_public = self.signed_prekey.public_key().to_bytes()
        return {
            "identity_key": b64(self.identity.public_key().to_bytes()),
            "signed_prekey": {
                "id": self.signed_prekey_id, "key": b64(signed_public),
                "signature": b64(self.identity.sign(signed_prekey_statement(self.signed_prekey_id, signed_public))),
            },
            "one_time_prekeys": [{"id": prekey_id, "key": b64(key.public_key().to_bytes())}
                                 for prekey_id, key in sorted((self.one_time if one_time is None else one_time).items())],
        }

    def to_dict(self) -> dict[str, Any]:
        return {"identity": b64(self.identity.to_bytes()), "signed_prekey_id": self.signed_prekey_id,
                "signed_prekey": b64(self.signed_prekey.to_bytes()),
                "one_time": {str(n): b64(key.to_bytes()) for n, key in self.one_time.items()},
                "next_one_time_id": self.next_one_time_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceKeys:
        return cls(identity=PrivateKey.from_bytes(unb64(data["identity"], "identity"), CURVE),
                   signed_prekey_id=int(data["signed_prekey_id"]),
                   signed_prekey=PrivateKey.from_bytes(unb64(data["signed_prekey"], "signed prekey"), CURVE),
                   one_time={int(n): PrivateKey.from_bytes(unb64(key, "one-time prekey"), CURVE)
                             for n, key in data["one_time"].items()},
                   next_one_time_id=int(data["next_one_time_id"]))


@dataclass(frozen=True)
class PublishedKeys:
    """A published bundle, checked: every key a valid point, the signed prekey signed by the identity."""

    identity_key: PublicKey
    signed_prekey_id: int
    signed_prekey: PublicKey
    signed_prekey_signature: bytes
    one_time_prekeys: tuple[tuple[int, PublicKey], ...]


def check_bundle(wire: object, *, max_one_time: int = ONE_TIME_STOCK) -> PublishedKeys:
    """The bundle of `keys.publish` (or one claimed by `keys.claim`), checked; BadBundle otherwise."""
    if not isinstance(wire, dict):
        raise BadBundle("a prekey bundle is an object")
    signed = wire.get("signed_prekey")
    if not isinstance(signed, dict):
        raise BadBundle('"signed_prekey" must be an object with "id", "key" and "signature"')
    identity = _public_key(wire.get("identity_key"), "the identity key")
    signed_id = _prekey_id(signed.get("id"), "the signed prekey id")
    signed_key = _public_key(signed.get("key"), "the signed prekey")
    signature = unb64(signed.get("signature"), "the signed prekey's signature")
    if not identity.verify(signature, signed_prekey_statement(signed_id, signed_key.to_bytes())):
        raise BadBundle("the signed prekey is not signed by the bundle's identity key")
    one_time_wire = wire.get("one_time_prekeys", [])
    if not isinstance(one_time_wire, list) or len(one_time_wire) > max_one_time:
        raise BadBundle(f'"one_time_prekeys" must be a list of at most {max_one_time} {{"id", "key"}}')
    one_time = []
    for item in one_time_wire:
        if not isinstance(item, dict):
            raise BadBundle('each one-time prekey is an object with "id" and "key"')
        one_time.append((_prekey_id(item.get("id"), "a one-time prekey id"), _public_key(item.get("key"), "a one-time prekey")))
    if len({prekey_id for prekey_id, _ in one_time}) != len(one_time):
        raise BadBundle("one-time prekey ids must be unique")
    return PublishedKeys(identity, signed_id, signed_key, signature, tuple(one_time))


def _public_key(value: object, what: str) -> PublicKey:
    try:
        return PublicKey.from_bytes(unb64(value, what), CURVE)
    except InvalidKey as err:
        raise BadBundle(f"{what} is not a valid GOST R 34.10-2012 public key: {err}") from None


def _prekey_id(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 0xFFFFFFFF:
        raise BadBundle(f"{what} must be an integer from 1 to {0xFFFFFFFF - 1}")
    return value
