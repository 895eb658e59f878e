"""A region's policy for secret chats (policies/secret-chats.toml), and the node's check of it.

In an `escrow` region every sealed message must carry a wrap of its key for the region's current
escrow key (svyaz.e2e.escrow); in a `strict` region none may. The node checks the wrap's shape and
key id, not its content (it cannot: see svyaz.e2e.escrow). Devices learn the policy from their home
node (`secret.policy`, and with each claimed bundle) and show it to their user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from svyaz.e2e.errors import SecretChatError
from svyaz.e2e.escrow import key_id, wrapped_key_id
from svyaz.e2e.prekeys import CURVE, b64
from svyaz.gost.errors import InvalidKey
from svyaz.gost.keys import PublicKey
from svyaz.messaging.errors import InvalidMessage, MessagingError

STRICT, ESCROW = "strict", "escrow"


class PolicyError(MessagingError):
    code = "secret_policy_invalid"


@dataclass(frozen=True)
class SecretChatPolicy:
    mode: str = STRICT
    escrow_key: PublicKey | None = None

    @property
    def escrow_key_id(self) -> str | None:
        return None if self.escrow_key is None else key_id(self.escrow_key)

    def as_wire(self) -> dict[str, Any]:
        if self.escrow_key is None:
            return {"mode": self.mode}
        return {"mode": self.mode, "escrow_key": b64(self.escrow_key.to_bytes()), "escrow_key_id": self.escrow_key_id}

    def check_escrow(self, wrap: bytes | None) -> None:
        """InvalidMessage unless `wrap` is what this region's policy asks of a sealed message."""
        if self.mode == STRICT:
            if wrap is not None:
                raise InvalidMessage("this region's secret chats are strict: a message carries no escrow wrap")
            return
        if wrap is None:
            raise InvalidMessage("this region's policy keeps a lawful-access copy of each secret message key; "
                                 'send its "escrow" wrap', hint="update your client")
        try:
            wrapped_for = wrapped_key_id(wrap)
        except SecretChatError as err:
            raise InvalidMessage(str(err)) from None
        if wrapped_for != self.escrow_key_id:
            raise InvalidMessage("the escrow wrap is for another escrow key (rotated?)",
                                 hint="ask the node for its policy again (`secret.policy`)")


def parse_policy(table: Mapping[str, Any], region: str, read_key: Callable[[str], bytes]) -> SecretChatPolicy:
    """The policy of `region` from the parsed TOML; `read_key(path)` gives an escrow key's PEM."""
    section = table.get(region)
    if section is None:
        return SecretChatPolicy()
    mode = section.get("mode", STRICT)
    if mode == STRICT:
        return SecretChatPolicy()
    if mode != ESCROW:
        raise PolicyError(f"[{region}] mode must be {STRICT!r} or {ESCROW!r}, not {mode!r}")
    path = section.get("escrow_key")
    if not isinstance(path, str):
        raise PolicyError(f'[{region}] mode "escrow" needs escrow_key = "<path of the public key PEM>"')
    try:
        escrow_key = PublicKey.from_pem(read_key(path))
    except InvalidKey as err:
        raise PolicyError(f"[{region}] escrow_key {path} is not a GOST public key: {err}") from None
    if escrow_key.curve is not CURVE:
        raise PolicyError(f"[{region}] escrow_key {path} must be on {CURVE.name}")
    return SecretChatPolicy(mode=ESCROW, escrow_key=escrow_key)
