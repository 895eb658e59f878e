"""Message franking: a recipient can prove to the node what a secret message said, and no more.

The sender picks a fresh franking key per message, puts it inside the ciphertext, and gives the
node a commitment to (chat, sender, text) under that key. The node stores the commitment with the
message; the commitment is also authenticated data of the envelope, so a recipient only accepts a
message whose commitment matches what it decrypts. To report, the recipient reveals the text and
the franking key of that one message; the node recomputes the commitment and compares it with the
stored one. Nothing else of the chat is revealed, and a sender cannot disown what it sent.
"""

from __future__ import annotations

import hmac
import secrets

from svyaz.e2e.errors import MalformedEnvelope, UndecryptableMessage
from svyaz.gost.kdf import hmac_streebog256

FRANKING_KEY_BYTES = 32
COMMITMENT_BYTES = 32
_CONTEXT = b"svyaz franking v1"


def new_franking_key() -> bytes:
    return secrets.token_bytes(FRANKING_KEY_BYTES)


def commitment(franking_key: bytes, *, chat: str, sender: str, text: str) -> bytes:
    statement = b"\0".join((_CONTEXT, chat.encode(), sender.encode(), text.encode("utf-8")))
    return hmac_streebog256(franking_key, statement)


def is_genuine(stored_commitment: bytes, franking_key: bytes, *, chat: str, sender: str, text: str) -> bool:
    """True if the revealed `text` and `franking_key` open the commitment the node stored."""
    if len(franking_key) != FRANKING_KEY_BYTES:
        return False
    return hmac.compare_digest(stored_commitment, commitment(franking_key, chat=chat, sender=sender, text=text))


def franked_text(raw_text: bytes, franking_key: bytes, stored_commitment: bytes, *, chat: str, sender: str) -> str:
    """The UTF-8 text of an opened message, once the commitment the node holds matches it: a
    message that could not be reported is refused (a sender must not be able to send one)."""
    try:
        text = raw_text.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedEnvelope("this secret message's text is not UTF-8") from None
    if not is_genuine(stored_commitment, franking_key, chat=chat, sender=sender, text=text):
        raise UndecryptableMessage("this secret message's franking commitment does not match it; refused, "
                                   "since it could not be reported")
    return text
