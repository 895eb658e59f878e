"""Setting up a secret chat without both people online: X3DH done with GOST VKO.

The initiator takes the responder's published keys (identity IK_B, signed prekey SPK_B, and one
one-time prekey OPK_B if any are left), makes an ephemeral key EK_A and computes four VKO
agreements (RFC 7836 VKO_GOSTR3410_2012_256, the handshake nonce as UKM):

    IK_A·SPK_B   EK_A·IK_B   EK_A·SPK_B   EK_A·OPK_B

The first two authenticate each side to the other; the third and fourth make the session secret
even if an identity key leaks later; the one-time prekey, deleted once used, makes a replayed
introduction useless. The shared secret is HMAC-Streebog-256 over the agreements, keyed by a
transcript of who is talking in which chat with which keys, and it yields one chain per direction.
"""

from __future__ import annotations

import secrets

from svyaz.e2e.envelope import HANDSHAKE_NONCE_BYTES, Introduction
from svyaz.e2e.errors import BadBundle, UndecryptableMessage
from svyaz.e2e.prekeys import CURVE, DeviceKeys, PublishedKeys
from svyaz.e2e.ratchet import ReceivingChain, SendingChain
from svyaz.e2e.session import Session
from svyaz.gost import streebog256
from svyaz.gost.errors import InvalidKey
from svyaz.gost.kdf import hmac_streebog256, kdf_256
from svyaz.gost.keys import PrivateKey, PublicKey

_CONTEXT = b"svyaz x3dh v1"
_CHAIN_LABEL = b"svyaz chain"


def start(*, chat: str, me: str, peer: str, identity: PrivateKey, peer_keys: PublishedKeys,
          escrow_key: bytes | None = None) -> Session:
    """The initiator's session with `peer`, whose checked bundle holds at most one one-time prekey.
    `escrow_key`: the region's escrow public key, if its policy asks that message keys be wrapped."""
    if len(peer_keys.one_time_prekeys) > 1:
        raise BadBundle("a claimed bundle carries at most one one-time prekey")
    one_time = peer_keys.one_time_prekeys[0] if peer_keys.one_time_prekeys else None
    ephemeral = PrivateKey.generate(CURVE)
    nonce = _handshake_nonce()
    agreements = [identity.agree(peer_keys.signed_prekey, nonce),
                  ephemeral.agree(peer_keys.identity_key, nonce),
                  ephemeral.agree(peer_keys.signed_prekey, nonce)]
    if one_time is not None:
        agreements.append(ephemeral.agree(one_time[1], nonce))
    my_identity = identity.public_key().to_bytes()
    introduction = Introduction(
        handshake_nonce=nonce, signed_prekey_id=peer_keys.signed_prekey_id,
        one_time_prekey_id=None if one_time is None else one_time[0],
        identity_key=my_identity, ephemeral_key=ephemeral.public_key().to_bytes())
    transcript = _transcript(chat, initiator=me, responder=peer, introduction=introduction,
                             responder_identity=peer_keys.identity_key.to_bytes(),
                             signed_prekey=peer_keys.signed_prekey.to_bytes(),
                             one_time_prekey=b"" if one_time is None else one_time[1].to_bytes())
    mine, theirs = _chains(transcript, agreements)
    return Session(chat=chat, me=me, peer=peer, my_identity_key=my_identity,
                   peer_identity_key=peer_keys.identity_key.to_bytes(),
                   sending=SendingChain(mine), receiving=ReceivingChain(theirs), introduction=introduction,
                   escrow_key=escrow_key)


def accept(*, chat: str, me: str, peer: str, device: DeviceKeys, introduction: Introduction,
           escrow_key: bytes | None = None) -> Session:
    """The responder's session from the initiator's introduction. Spends the one-time prekey it
    names (the caller saves `device` only once the first message has opened)."""
    if introduction.signed_prekey_id != device.signed_prekey_id:
        raise UndecryptableMessage("this secret chat was started with a signed prekey this device no longer has")
    one_time_key = b""
    one_time_private = None
    if introduction.one_time_prekey_id is not None:
        one_time_private = device.take_one_time(introduction.one_time_prekey_id)
        if one_time_private is None:
            raise UndecryptableMessage("this secret chat's one-time prekey was used already (a replayed start?)")
        one_time_key = one_time_private.public_key().to_bytes()
    try:
        initiator_identity = PublicKey.from_bytes(introduction.identity_key, CURVE)
        ephemeral = PublicKey.from_bytes(introduction.ephemeral_key, CURVE)
    except InvalidKey as err:
        raise UndecryptableMessage(f"the secret chat's introduction carries an invalid key: {err}") from None
    nonce = introduction.handshake_nonce
    agreements = [device.signed_prekey.agree(initiator_identity, nonce),
                  device.identity.agree(ephemeral, nonce),
                  device.signed_prekey.agree(ephemeral, nonce)]
    if one_time_private is not None:
        agreements.append(one_time_private.agree(ephemeral, nonce))
    my_identity = device.identity.public_key().to_bytes()
    transcript = _transcript(chat, initiator=peer, responder=me, introduction=introduction,
                             responder_identity=my_identity,
                             signed_prekey=device.signed_prekey.public_key().to_bytes(),
                             one_time_prekey=one_time_key)
    theirs, mine = _chains(transcript, agreements)
    return Session(chat=chat, me=me, peer=peer, my_identity_key=my_identity,
                   peer_identity_key=introduction.identity_key,
                   sending=SendingChain(mine), receiving=ReceivingChain(theirs), introduction=None,
                   escrow_key=escrow_key)


def _handshake_nonce() -> bytes:
    # VKO refuses a zero UKM; 2^-64 is the chance of drawing one, and then we draw again.
    while not any(nonce := secrets.token_bytes(HANDSHAKE_NONCE_BYTES)):
        pass
    return nonce


def _transcript(chat: str, *, initiator: str, responder: str, introduction: Introduction,
                responder_identity: bytes, signed_prekey: bytes, one_time_prekey: bytes) -> bytes:
    parts = (_CONTEXT, chat.encode(), initiator.encode(), responder.encode(), introduction.identity_key,
             responder_identity, introduction.ephemeral_key, signed_prekey, one_time_prekey)
    return streebog256(b"".join(len(part).to_bytes(2, "big") + part for part in parts))


def _chains(transcript: bytes, agreements: list[bytes]) -> tuple[bytes, bytes]:
    """(initiator's sending chain key, responder's sending chain key)."""
    secret = hmac_streebog256(transcript, b"".join(agreements))
    return kdf_256(secret, _CHAIN_LABEL, b"initiator"), kdf_256(secret, _CHAIN_LABEL, b"responder")
