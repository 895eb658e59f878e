"""The node's access-token MAC key: created once in `node.data_dir`, shared by every process of the node.

Kept as a file (mode 0600) rather than in configuration, so it never appears in a config file,
an environment listing or a log. Rotation: add a new file name to the keyring (not yet exposed).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from svyaz.identity.tokens import Keyring

TOKEN_KEY_FILE = "token.key"


def load_or_create_token_keyring(data_dir: Path) -> Keyring:
    directory = data_dir / "keys"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / TOKEN_KEY_FILE
    try:
        # O_EXCL: when several processes of a node start at once, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    secret = bytes.fromhex(path.read_text().strip())
    kid = hashlib.sha256(secret).hexdigest()[:12]  # names the key without revealing it
    return Keyring(current=kid, keys={kid: secret})
