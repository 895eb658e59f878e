"""One side of a secret chat: seals outgoing messages and opens incoming ones.

Each message is Kuznyechik AEAD (`svyaz.gost.aead`) under its own ratchet key. The associated
data binds the envelope's header, the chat, the sender and the franking commitment, so the node
cannot move a message to another chat, pass it off as someone else's, or swap its commitment.
Plaintext inside: the franking key, then the text in UTF-8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from svyaz.e2e import envelope as wire
from svyaz.e2e.errors import MalformedEnvelope, UndecryptableMessage
from svyaz.e2e.franking import FRANKING_KEY_BYTES, commitment, is_genuine, new_franking_key
from svyaz.e2e.prekeys import b64, unb64
from svyaz.e2e.ratchet import ReceivingChain, SendingChain
from svyaz.gost.aead import NONCE_BYTES, Aead
from svyaz.gost.errors import AuthenticationFailed


@dataclass(frozen=True)
class Sealed:
    envelope: bytes
    franking: bytes      # the commitment the node stores with the message


@dataclass(frozen=True)
class Opened:
    text: str
    franking_key: bytes  # kept by the recipient, revealed only to report this message


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

    def seal(self, text: str) -> Sealed:
        counter, message_key, self.sending = self.sending.advance()
        franking_key = new_franking_key()
        franked = commitment(franking_key, chat=self.chat, sender=self.me, text=text)
        header = wire.Envelope(counter=counter, body=b"", introduction=self.introduction).header()
        body = Aead(message_key).seal(_nonce(counter), franking_key + text.encode("utf-8"),
                                      _associated(header, self.chat, self.me, franked))
        return Sealed(envelope=header + body, franking=franked)

    def open(self, envelope: wire.Envelope, franking: bytes) -> Opened:
        """The text of the peer's `envelope`; UndecryptableMessage (or ReplayedMessage) otherwise.
        The session changes only when the message opens."""
        message_key, receiving = self.receiving.key_for(envelope.counter)
        associated = _associated(envelope.header(), self.chat, self.peer, franking)
        try:
            plaintext = Aead(message_key).open(_nonce(envelope.counter), envelope.body, associated)
        except AuthenticationFailed:
            raise UndecryptableMessage("this secret message does not authenticate: altered, or not for this chat") from None
        franking_key, raw_text = plaintext[:FRANKING_KEY_BYTES], plaintext[FRANKING_KEY_BYTES:]
        try:
            text = raw_text.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedEnvelope("this secret message's text is not UTF-8") from None
        if not is_genuine(franking, franking_key, chat=self.chat, sender=self.peer, text=text):
            raise UndecryptableMessage("this secret message's franking commitment does not match it; refused, "
                                       "since it could not be reported")
        self.receiving = receiving
        self.introduction = None  # the peer has the session: no need to introduce ourselves again
        return Opened(text=text, franking_key=franking_key)

    def to_dict(self) -> dict[str, Any]:
        intro = self.introduction
        return {
            "chat": self.chat, "me": self.me, "peer": self.peer,
            "my_identity_key": b64(self.my_identity_key), "peer_identity_key": b64(self.peer_identity_key),
            "sending": {"chain_key": b64(self.sending.chain_key), "counter": self.sending.counter},
            "receiving": {"chain_key": b64(self.receiving.chain_key), "counter": self.receiving.counter,
                          "skipped": {str(n): b64(key) for n, key in self.receiving.skipped.items()}},
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
                ephemeral_key=unb64(intro["ephemeral_key"], "key")))


def _nonce(counter: int) -> bytes:
    # Each message key is used once; the counter as nonce makes a repeat impossible even so.
    return counter.to_bytes(NONCE_BYTES, "big")


def _associated(header: bytes, chat: str, sender: str, franking: bytes) -> bytes:
    return b"".join(len(part).to_bytes(4, "big") + part for part in (header, chat.encode(), sender.encode(), franking))
