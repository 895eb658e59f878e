"""One side of a secret chat: seals outgoing messages and opens incoming ones.

Each message is Kuznyechik AEAD (`svyaz.gost.aead`) under its own ratchet key. The associated
data binds the envelope's header (with its escrow wrap, if the region's policy asks for one), the
chat, the sender and the franking commitment, so the node cannot move a message to another chat,
pass it off as someone else's, or swap its commitment or its wrap. Plaintext inside: the franking
key, the content kind (TEXT, or SENDER_KEY for a group's key distribution: svyaz.e2e.group), then
the text in UTF-8 or the control message's bytes. A control message is franked like an empty text:
it is nothing a person wrote, so there is nothing to report, and the AEAD already binds its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from svyaz.e2e import envelope as wire
from svyaz.e2e import escrow
from svyaz.e2e.errors import MalformedEnvelope, UndecryptableMessage
from svyaz.e2e.franking import FRANKING_KEY_BYTES, commitment, franked_text, is_genuine, new_franking_key
from svyaz.e2e.prekeys import CURVE, b64, unb64
from svyaz.e2e.ratchet import ReceivingChain, SendingChain
from svyaz.gost.aead import NONCE_BYTES, Aead
from svyaz.gost.errors import AuthenticationFailed
from svyaz.gost.keys import PrivateKey, PublicKey


@dataclass(frozen=True)
class Sealed:
    envelope: bytes
    franking: bytes      # the commitment the node stores with the message


@dataclass(frozen=True)
class Opened:
    text: str
    franking_key: bytes  # kept by the recipient, revealed only to report this message
    kind: int = wire.TEXT
    control: bytes = b""  # a control message's body (kind != TEXT); its `text` is then ""

    @property
    def is_text(self) -> bool:
        return self.kind == wire.TEXT


@dataclass
class Session:
    chat: str
    me: str
    peer: str
    my_identity_key: bytes
    peer_identity_key: bytes
    sending: SendingChain
    receiving: ReceivingChain
    introduction: wire.Introduction | None   # sent with each message until the peer first replies
    escrow_key: bytes | None = None           # the region's escrow public key, under an escrow policy

    def seal(self, text: str) -> Sealed:
        return self._seal(wire.TEXT, text.encode("utf-8"), text)

    def seal_control(self, kind: int, body: bytes) -> Sealed:
        """A control message (e.g. wire.SENDER_KEY) for the peer's device, not its user."""
        if kind == wire.TEXT or not 0 < kind < 256:
            raise ValueError(f"{kind} is not a control message kind")
        return self._seal(kind, body, "")

    def _seal(self, kind: int, body: bytes, franked_text: str) -> Sealed:
        counter, message_key, self.sending = self.sending.advance()
        franking_key = new_franking_key()
        franked = commitment(franking_key, chat=self.chat, sender=self.me, text=franked_text)
        wrap = None if self.escrow_key is None else escrow.wrap(
            message_key, PublicKey.from_bytes(self.escrow_key, CURVE), context=escrow_context(self.chat, self.me, counter))
        header = wire.Envelope(counter=counter, body=b"", introduction=self.introduction, escrow=wrap).header()
        ciphertext = Aead(message_key).seal(_nonce(counter), franking_key + bytes([kind]) + body,
                                            _associated(header, self.chat, self.me, franked))
        return Sealed(envelope=header + ciphertext, franking=franked)

    def open(self, envelope: wire.Envelope, franking: bytes) -> Opened:
        """The text of the peer's `envelope`; UndecryptableMessage (or ReplayedMessage) otherwise.
        The session changes only when the message opens."""
        message_key, receiving = self.receiving.key_for(envelope.counter)
        opened = open_with_key(message_key, envelope, chat=self.chat, sender=self.peer, franking=franking)
        self.receiving = receiving
        self.introduction = None  # the peer has the session: no need to introduce ourselves again
        return opened

    def to_dict(self) -> dict[str, Any]:
        intro = self.introduction
        return {
            "chat": self.chat, "me": self.me, "peer": self.peer,
            "my_identity_key": b64(self.my_identity_key), "peer_identity_key": b64(self.peer_identity_key),
            "sending": {"chain_key": b64(self.sending.chain_key), "counter": self.sending.counter},
            "receiving": {"chain_key": b64(self.receiving.chain_key), "counter": self.receiving.counter,
                          "skipped": {str(n): b64(key) for n, key in self.receiving.skipped.items()}},
            "escrow_key": None if self.escrow_key is None else b64(self.escrow_key),
            "introduction": None if intro is None else {
                "handshake_nonce": b64(intro.handshake_nonce), "signed_prekey_id": intro.signed_prekey_id,
                "one_time_prekey_id": intro.one_time_prekey_id, "identity_key": b64(intro.identity_key),
                "ephemeral_key": b64(intro.ephemeral_key)},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        intro = data["introduction"]
        receiving = data["receiving"]
        return cls(
            chat=data["chat"], me=data["me"], peer=data["peer"],
            my_identity_key=unb64(data["my_identity_key"], "key"), peer_identity_key=unb64(data["peer_identity_key"], "key"),
            sending=SendingChain(unb64(data["sending"]["chain_key"], "key"), int(data["sending"]["counter"])),
            receiving=ReceivingChain(unb64(receiving["chain_key"], "key"), int(receiving["counter"]),
                                     {int(n): unb64(key, "key") for n, key in receiving["skipped"].items()}),
            introduction=None if intro is None else wire.Introduction(
                handshake_nonce=unb64(intro["handshake_nonce"], "key"), signed_prekey_id=intro["signed_prekey_id"],
                one_time_prekey_id=intro["one_time_prekey_id"], identity_key=unb64(intro["identity_key"], "key"),
                ephemeral_key=unb64(intro["ephemeral_key"], "key")),
            escrow_key=None if data.get("escrow_key") is None else unb64(data["escrow_key"], "key"))


def open_with_key(message_key: bytes, envelope: wire.Envelope, *, chat: str, sender: str, franking: bytes) -> Opened:
    """Open `envelope` with its message key (from the ratchet, or from escrow): check the tag and
    the franking commitment; UndecryptableMessage or MalformedEnvelope otherwise."""
    associated = _associated(envelope.header(), chat, sender, franking)
    try:
        plaintext = Aead(message_key).open(_nonce(envelope.counter), envelope.body, associated)
    except AuthenticationFailed:
        raise UndecryptableMessage("this secret message does not authenticate: altered, or not for this chat") from None
    if len(plaintext) <= FRANKING_KEY_BYTES:
        raise MalformedEnvelope("this secret message has no content kind")
    franking_key, kind, raw_text = (plaintext[:FRANKING_KEY_BYTES], plaintext[FRANKING_KEY_BYTES],
                                    plaintext[FRANKING_KEY_BYTES + 1:])
    if kind != wire.TEXT:
        if not is_genuine(franking, franking_key, chat=chat, sender=sender, text=""):
            raise UndecryptableMessage("this secret control message's franking commitment does not match it")
        return Opened(text="", franking_key=franking_key, kind=kind, control=raw_text)
    text = franked_text(raw_text, franking_key, franking, chat=chat, sender=sender)
    return Opened(text=text, franking_key=franking_key)


def open_escrowed(envelope: wire.Envelope, escrow_private: PrivateKey, *, chat: str, sender: str,
                  franking: bytes) -> Opened:
    """A stored message opened with the region's escrow key (rebuilt from officers' shares after
    the lawful-access workflow's approvals); EscrowError if the message carries no wrap for it."""
    if envelope.escrow is None:
        raise escrow.EscrowError("this secret message was sent under a strict policy: it has no escrow wrap")
    message_key = escrow.unwrap(envelope.escrow, escrow_private,
                                context=escrow_context(chat, sender, envelope.counter))
    return open_with_key(message_key, envelope, chat=chat, sender=sender, franking=franking)


def escrow_context(chat: str, sender: str, counter: int) -> bytes:
    return b"".join(len(part).to_bytes(4, "big") + part for part in (chat.encode(), sender.encode(),
                                                                     counter.to_bytes(8, "big")))


def _nonce(counter: int) -> bytes:
    # Each message key is used once; the counter as nonce makes a repeat impossible even so.
    return counter.to_bytes(NONCE_BYTES, "big")


def _associated(header: bytes, chat: str, sender: str, franking: bytes) -> bytes:
    return b"".join(len(part).to_bytes(4, "big") + part for part in (header, chat.encode(), sender.encode(), franking))
