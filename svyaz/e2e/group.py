"""Small-group secret chats: sender keys, in the manner of Signal's, with GOST.

Each member's device has, per group, a **sender key**: a symmetric ratchet chain (svyaz.e2e.ratchet)
and a GOST R 34.10-2012 signing key, named by a random 32-bit key id. It sends the chain's current
state and the signing key's public half to every other member, each over the 1:1 secret session
with that member (a SENDER_KEY control message: `Distribution`). Each group message is then

    AEAD(message key, nonce = counter, franking key | text, ad)     one message key per message
    signature = sign(signing key, context | group | sender | header | ciphertext | franking)

The AEAD key is shared by every member, so the AEAD alone would let any member forge any other's
messages; the signature, which only the sender's device can make, is what stops that. The
associated data binds the header (key id, counter and any escrow wrap), the group, the sender and
the franking commitment, as in a 1:1 chat.

Wire form (kind GROUP of svyaz.e2e.envelope, same version byte):

    version(1) kind(1, GROUP, flag 0x80 = escrowed) key id(4) counter(8)
    [escrow wrap (129), the message key wrapped for the region's escrow key]
    ciphertext || tag
    signature(64)

Membership changes (`plan`): when anyone has left since a sender key was distributed, its owner
makes a new one before sending again and distributes it to the members who remain, so the leaver
cannot open what follows. A new member is sent the current chain state only, from which earlier
message keys cannot be computed (the KDF is one-way), so it cannot open what came before.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from svyaz.e2e import escrow
from svyaz.e2e.envelope import ESCROW_WRAP_BYTES, ESCROWED, GROUP, PUBLIC_KEY_BYTES, VERSION
from svyaz.e2e.errors import MalformedEnvelope, SecretChatError, UndecryptableMessage
from svyaz.e2e.franking import FRANKING_KEY_BYTES, commitment, franked_text, new_franking_key
from svyaz.e2e.prekeys import CURVE, b64, unb64
from svyaz.e2e.ratchet import ReceivingChain, SendingChain
from svyaz.e2e.session import Opened, Sealed
from svyaz.gost.aead import NONCE_BYTES, TAG_BYTES, Aead
from svyaz.gost.errors import AuthenticationFailed, InvalidKey
from svyaz.gost.keys import PrivateKey, PublicKey

SIGNATURE_BYTES = 64
CHAIN_KEY_BYTES = 32
# Old sender keys of one member kept for late messages sent under them, newest last.
KEPT_KEYS_PER_SENDER = 4
_PREFIX = struct.Struct(">BBIQ")
_SIGNED_CONTEXT = b"svyaz group message v1"
_DISTRIBUTION_VERSION = 1
_DISTRIBUTION = struct.Struct(f">BIQ{CHAIN_KEY_BYTES}s{PUBLIC_KEY_BYTES}s")
MAX_GROUP_ID_BYTES = 200


class ForgedMessage(UndecryptableMessage):
    """A group message whose signature is not its sender's: altered, or forged by another member."""

    code = "secret_forged"


class NoSenderKey(SecretChatError):
    """A group message under a sender key this device has not been given (yet, or ever)."""

    code = "secret_no_sender_key"


@dataclass(frozen=True)
class GroupEnvelope:
    key_id: int
    counter: int
    body: bytes                  # ciphertext || tag
    signature: bytes = b""
    escrow: bytes | None = None

    def header(self) -> bytes:
        kind = GROUP | (ESCROWED if self.escrow is not None else 0)
        return _PREFIX.pack(VERSION, kind, self.key_id, self.counter) + (self.escrow or b"")

    def to_bytes(self) -> bytes:
        return self.header() + self.body + self.signature


def parse(raw: bytes) -> GroupEnvelope:
    """The group envelope in `raw`; MalformedEnvelope for anything else (never a crash). What the
    node reads too, for the escrow wrap: the header is public."""
    if len(raw) < _PREFIX.size + TAG_BYTES + SIGNATURE_BYTES:
        raise MalformedEnvelope(f"a group secret message is at least {_PREFIX.size + TAG_BYTES + SIGNATURE_BYTES} "
                                f"bytes; got {len(raw)}")
    version, flagged_kind, key_id, counter = _PREFIX.unpack_from(raw)
    if version != VERSION:
        raise MalformedEnvelope(f"secret message version {version} is not one this client reads (it reads {VERSION})")
    if flagged_kind & ~ESCROWED != GROUP:
        raise MalformedEnvelope("this is not a group secret message (a group takes only those)")
    offset, wrap = _PREFIX.size, None
    if flagged_kind & ESCROWED:
        if len(raw) < offset + ESCROW_WRAP_BYTES + TAG_BYTES + SIGNATURE_BYTES:
            raise MalformedEnvelope("the escrow wrap of a group secret message is cut short")
        wrap, offset = raw[offset:offset + ESCROW_WRAP_BYTES], offset + ESCROW_WRAP_BYTES
    return GroupEnvelope(key_id=key_id, counter=counter, body=raw[offset:-SIGNATURE_BYTES],
                         signature=raw[-SIGNATURE_BYTES:], escrow=wrap)


@dataclass(frozen=True)
class Distribution:
    """A sender key as its owner hands it to one other member (the body of a SENDER_KEY message)."""

    group: str
    key_id: int
    counter: int          # the counter of the owner's next message: nothing before it can be opened
    chain_key: bytes
    signing_key: bytes    # the public half, 64 bytes

    def to_bytes(self) -> bytes:
        group = self.group.encode()
        return (_DISTRIBUTION.pack(_DISTRIBUTION_VERSION, self.key_id, self.counter, self.chain_key,
                                   self.signing_key) + group)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Distribution:
        if not _DISTRIBUTION.size < len(raw) <= _DISTRIBUTION.size + MAX_GROUP_ID_BYTES:
            raise MalformedEnvelope("not a sender key distribution (wrong size)")
        version, key_id, counter, chain_key, signing_key = _DISTRIBUTION.unpack_from(raw)
        if version != _DISTRIBUTION_VERSION:
            raise MalformedEnvelope(f"sender key distribution version {version} is not one this client reads")
        try:
            group = raw[_DISTRIBUTION.size:].decode("ascii")
            PublicKey.from_bytes(signing_key, CURVE)
        except (UnicodeDecodeError, InvalidKey):
            raise MalformedEnvelope("a sender key distribution with a bad group id or signing key") from None
        return cls(group=group, key_id=key_id, counter=counter, chain_key=chain_key, signing_key=signing_key)


@dataclass
class SenderKey:
    """This device's sender key in one group."""

    group: str
    me: str
    key_id: int
    chain: SendingChain
    signing: PrivateKey
    escrow_key: bytes | None = None   # the region's escrow public key, under an escrow policy

    @classmethod
    def create(cls, *, group: str, me: str, escrow_key: bytes | None = None, avoid: Iterable[int] = ()) -> SenderKey:
        taken = set(avoid)
        while (key_id := secrets.randbits(32)) in taken:
            pass
        return cls(group=group, me=me, key_id=key_id, chain=SendingChain(secrets.token_bytes(CHAIN_KEY_BYTES)),
                   signing=PrivateKey.generate(CURVE), escrow_key=escrow_key)

    def distribution(self) -> Distribution:
        """The key as it stands: whoever gets it can open this key's next message and later ones."""
        return Distribution(group=self.group, key_id=self.key_id, counter=self.chain.counter,
                            chain_key=self.chain.chain_key, signing_key=self.signing.public_key().to_bytes())

    def seal(self, text: str) -> Sealed:
        counter, message_key, self.chain = self.chain.advance()
        franking_key = new_franking_key()
        franked = commitment(franking_key, chat=self.group, sender=self.me, text=text)
        wrap = None if self.escrow_key is None else escrow.wrap(
            message_key, PublicKey.from_bytes(self.escrow_key, CURVE),
            context=escrow_context(self.group, self.me, self.key_id, counter))
        header = GroupEnvelope(key_id=self.key_id, counter=counter, body=b"", escrow=wrap).header()
        body = Aead(message_key).seal(_nonce(counter), franking_key + text.encode("utf-8"),
                                      _associated(header, self.group, self.me, franked))
        signature = self.signing.sign(_signed(self.group, self.me, header, body, franked))
        return Sealed(envelope=header + body + signature, franking=franked)

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "me": self.me, "key_id": self.key_id,
                "chain": {"chain_key": b64(self.chain.chain_key), "counter": self.chain.counter},
                "signing": b64(self.signing.to_bytes()),
                "escrow_key": None if self.escrow_key is None else b64(self.escrow_key)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SenderKey:
        return cls(group=data["group"], me=data["me"], key_id=int(data["key_id"]),
                   chain=SendingChain(unb64(data["chain"]["chain_key"], "key"), int(data["chain"]["counter"])),
                   signing=PrivateKey.from_bytes(unb64(data["signing"], "key"), CURVE),
                   escrow_key=None if data.get("escrow_key") is None else unb64(data["escrow_key"], "key"))


@dataclass
class PeerSenderKey:
    """Another member's sender key, as this device received it."""

    group: str
    sender: str
    key_id: int
    chain: ReceivingChain
    signing_key: bytes

    @classmethod
    def received(cls, distribution: Distribution, *, sender: str) -> PeerSenderKey:
        return cls(group=distribution.group, sender=sender, key_id=distribution.key_id,
                   chain=ReceivingChain(distribution.chain_key, distribution.counter),
                   signing_key=distribution.signing_key)

    def open(self, envelope: GroupEnvelope, franking: bytes) -> Opened:
        """The text of `envelope`; ForgedMessage, UndecryptableMessage or ReplayedMessage otherwise.
        The signature is checked first, and the chain moves only once the message opens."""
        if envelope.key_id != self.key_id:
            raise NoSenderKey(f"this message is under sender key {envelope.key_id:08x}, not {self.key_id:08x}")
        verify_signature(envelope, PublicKey.from_bytes(self.signing_key, CURVE), group=self.group,
                         sender=self.sender, franking=franking)
        message_key, chain = self.chain.key_for(envelope.counter)
        opened = open_with_key(message_key, envelope, group=self.group, sender=self.sender, franking=franking)
        self.chain = chain
        return opened

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "sender": self.sender, "key_id": self.key_id, "signing_key": b64(self.signing_key),
                "chain": {"chain_key": b64(self.chain.chain_key), "counter": self.chain.counter,
                          "skipped": {str(n): b64(key) for n, key in self.chain.skipped.items()}}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PeerSenderKey:
        chain = data["chain"]
        return cls(group=data["group"], sender=data["sender"], key_id=int(data["key_id"]),
                   signing_key=unb64(data["signing_key"], "key"),
                   chain=ReceivingChain(unb64(chain["chain_key"], "key"), int(chain["counter"]),
                                        {int(n): unb64(key, "key") for n, key in chain["skipped"].items()}))


@dataclass(frozen=True)
class Plan:
    """What a member's device does before it sends into a group (see `plan`)."""

    new_key: bool                          # make a new sender key first (someone left)
    send_to: tuple[str, ...] = field(default=())   # members to give the (new or current) key to


def plan(*, me: str, members: Iterable[str], given_to: Iterable[str] | None) -> Plan:
    """`given_to`: the members this device's current sender key went to (None: it has none yet).
    Anyone who has it and is no longer a member forces a new key, given to every member that
    remains; otherwise only members who joined since get the current key."""
    current = sorted(set(members) - {me})
    if given_to is None or set(given_to) - set(current):
        return Plan(new_key=True, send_to=tuple(current))
    return Plan(new_key=False, send_to=tuple(m for m in current if m not in set(given_to)))


def verify_signature(envelope: GroupEnvelope, signing_key: PublicKey, *, group: str, sender: str,
                     franking: bytes) -> None:
    if not signing_key.verify(envelope.signature, _signed(group, sender, envelope.header(), envelope.body, franking)):
        raise ForgedMessage(f"this group message does not carry {sender}'s signature: altered, or forged by "
                            "another member")


def open_with_key(message_key: bytes, envelope: GroupEnvelope, *, group: str, sender: str, franking: bytes) -> Opened:
    """Open with the message key (from the chain, or from escrow): the tag, then the franking commitment."""
    try:
        plaintext = Aead(message_key).open(_nonce(envelope.counter), envelope.body,
                                           _associated(envelope.header(), group, sender, franking))
    except AuthenticationFailed:
        raise UndecryptableMessage("this group message does not authenticate: altered, or not for this group") from None
    franking_key, raw_text = plaintext[:FRANKING_KEY_BYTES], plaintext[FRANKING_KEY_BYTES:]
    return Opened(text=franked_text(raw_text, franking_key, franking, chat=group, sender=sender),
                  franking_key=franking_key)


def open_escrowed(envelope: GroupEnvelope, escrow_private: PrivateKey, *, group: str, sender: str,
                  franking: bytes) -> Opened:
    """A stored group message opened with the region's rebuilt escrow key (the lawful-access
    workflow's business); EscrowError if it carries no wrap. The signature is not checked: the
    escrow holder has no member's signing key, and the AEAD tag already shows the key fits."""
    if envelope.escrow is None:
        raise escrow.EscrowError("this group message was sent under a strict policy: it has no escrow wrap")
    message_key = escrow.unwrap(envelope.escrow, escrow_private,
                                context=escrow_context(group, sender, envelope.key_id, envelope.counter))
    return open_with_key(message_key, envelope, group=group, sender=sender, franking=franking)


def escrow_context(group: str, sender: str, key_id: int, counter: int) -> bytes:
    return _joined(b"group", group.encode(), sender.encode(), key_id.to_bytes(4, "big"), counter.to_bytes(8, "big"))


def _signed(group: str, sender: str, header: bytes, body: bytes, franking: bytes) -> bytes:
    return _joined(_SIGNED_CONTEXT, group.encode(), sender.encode(), header, body, franking)


def _associated(header: bytes, group: str, sender: str, franking: bytes) -> bytes:
    return _joined(header, group.encode(), sender.encode(), franking)


def _joined(*parts: bytes) -> bytes:
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def _nonce(counter: int) -> bytes:
    return counter.to_bytes(NONCE_BYTES, "big")
