"""Reading the region's secret-chat policy from `<rbac.policy_dir>/secret-chats.toml` at start-up.

A missing file means strict (no escrow) everywhere; a file that is there but wrong stops the node
with the reason, since running the wrong policy silently is worse than not starting.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from svyaz.messaging.secret_policy import PolicyError, SecretChatPolicy, parse_policy

POLICY_FILE = "secret-chats.toml"


def load_secret_policy(policy_dir: Path, region: str) -> SecretChatPolicy:
    path = policy_dir / POLICY_FILE
    if not path.exists():
        return SecretChatPolicy()
    try:
        table = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise PolicyError(f"{path} is not valid TOML: {err}") from None

    def read_key(relative: str) -> bytes:
        key_path = policy_dir / relative
        try:
            return key_path.read_bytes()
        except OSError as err:
            raise PolicyError(f"{path}: cannot read the escrow key {key_path}: {err.strerror}") from None

    return parse_policy(table, region, read_key)
