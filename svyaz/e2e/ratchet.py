"""Per-message keys from a symmetric ratchet: each key is used once, then forgotten.

A chain key steps forward with a one-way KDF (RFC 7836 KDF_GOSTR3411_2012_256); each step also
yields one message key. Deleting spent chain and message keys is what gives forward secrecy: a
device stolen tomorrow cannot open today's messages. Messages may arrive out of order, so the
receiving side keeps the keys it skipped over, up to MAX_SKIPPED; a counter whose key is gone is a
replay and is refused.

Receiving is two-phase: `key_for` returns the key and the chain as it would be afterwards, and the
session keeps that chain only once the message has authenticated, so a forged counter moves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from svyaz.e2e.errors import ReplayedMessage, UndecryptableMessage
from svyaz.gost.kdf import kdf_256

MAX_SKIPPED = 1000
_STEP_LABEL, _MESSAGE_LABEL = b"svyaz chain step", b"svyaz message key"


def _step(chain_key: bytes) -> tuple[bytes, bytes]:
    """(next chain key, this step's message key)."""
    return kdf_256(chain_key, _STEP_LABEL, b""), kdf_256(chain_key, _MESSAGE_LABEL, b"")


@dataclass(frozen=True)
class SendingChain:
    chain_key: bytes
    counter: int = 0     # the counter of the next message

    def advance(self) -> tuple[int, bytes, SendingChain]:
        """(counter, message key, the chain after it)."""
        next_key, message_key = _step(self.chain_key)
        return self.counter, message_key, SendingChain(next_key, self.counter + 1)


@dataclass(frozen=True)
class ReceivingChain:
    chain_key: bytes
    counter: int = 0                                            # the next counter not yet derived
    skipped: dict[int, bytes] = field(default_factory=dict)     # counter -> unused message key

    def key_for(self, counter: int) -> tuple[bytes, ReceivingChain]:
        """The message key for `counter` and the chain to keep if that message authenticates."""
        if counter < self.counter:
            if counter not in self.skipped:
                raise ReplayedMessage("this secret message was already opened (a replay or a duplicate)")
            remaining = {n: key for n, key in self.skipped.items() if n != counter}
            return self.skipped[counter], replace(self, skipped=remaining)
        if counter - self.counter > MAX_SKIPPED:
            raise UndecryptableMessage(
                f"this secret message is {counter - self.counter} messages ahead; at most {MAX_SKIPPED} may be missing")
        chain_key, skipped = self.chain_key, dict(self.skipped)
        for missing in range(self.counter, counter):
            chain_key, skipped[missing] = _step(chain_key)
        chain_key, message_key = _step(chain_key)
        # The oldest skipped keys go first: a message that late is as good as lost.
        while len(skipped) > MAX_SKIPPED:
            del skipped[min(skipped)]
        return message_key, ReceivingChain(chain_key, counter + 1, skipped)
