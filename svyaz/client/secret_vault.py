"""Where a device keeps its secret chats: keys, sessions and the messages it has opened.

One file per account (`secret/<account>.vault` in the client directory), sealed with the project's
Kuznyechik AEAD under a random vault key that lives with the account's tokens (OS keyring, or the
GOST-sealed tokens file). A stolen disk without the keyring yields nothing. Each write uses the
next nonce of a counter kept in the file, so no nonce repeats under the vault key; the account id
is authenticated too, so one account's vault cannot be swapped for another's.

    b"SVV1" | nonce(16) | AEAD(json state)
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from svyaz.client.accounts import SecretStore
from svyaz.errors import SvyazError
from svyaz.gost.aead import KEY_BYTES, NONCE_BYTES, Aead
from svyaz.gost.errors import AuthenticationFailed

MAGIC = b"SVV1"


class VaultError(SvyazError):
    code = "secret_vault_error"


def empty_state() -> dict[str, Any]:
    return {"device": None, "sessions": {}, "transcript": {}, "groups": {}, "read_up_to": {}}


class SecretVault:
    def __init__(self, directory: Path, account: str, secrets_store: SecretStore) -> None:
        self.path = directory / "secret" / f"{account.replace('/', '_')}.vault"
        self._account = account
        self._store = secrets_store
        # Read from the keyring once per vault object: a sealed-file keyring costs a PBKDF2 per read.
        self._vault_key: bytes | None = None

    def load(self) -> dict[str, Any]:
        if not self.path.exists():
            return empty_state()
        raw = self.path.read_bytes()
        if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + NONCE_BYTES:
            raise VaultError(f"{self.path} is not a secret-chat vault")
        nonce = raw[len(MAGIC):len(MAGIC) + NONCE_BYTES]
        try:
            plaintext = Aead(self._key(create=False)).open(nonce, raw[len(MAGIC) + NONCE_BYTES:], self._associated())
        except AuthenticationFailed:
            raise VaultError(f"{self.path} does not open with this account's vault key (altered, or another account's)",
                             hint="secret chats of this device cannot be read; start new ones") from None
        return json.loads(plaintext)

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        nonce = (self._last_nonce() + 1).to_bytes(NONCE_BYTES, "big")
        sealed = Aead(self._key(create=True)).seal(nonce, json.dumps(state).encode(), self._associated())
        descriptor, name = tempfile.mkstemp(dir=self.path.parent, prefix=".vault.", suffix=".tmp")
        with os.fdopen(descriptor, "wb") as file:
            file.write(MAGIC + nonce + sealed)
            file.flush()
            os.fsync(file.fileno())
        os.replace(name, self.path)

    def _last_nonce(self) -> int:
        if not self.path.exists():
            return 0
        with self.path.open("rb") as file:
            head = file.read(len(MAGIC) + NONCE_BYTES)
        return int.from_bytes(head[len(MAGIC):], "big") if head.startswith(MAGIC) else 0

    def _key(self, *, create: bool) -> bytes:
        if self._vault_key is None:
            name = f"secret-vault:{self._account}"
            stored = self._store.get(name)
            if stored is None:
                if not create:
                    raise VaultError(f"no vault key for {self._account} on this device", hint="start new secret chats")
                stored = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()
                self._store.set(name, stored)
            self._vault_key = base64.b64decode(stored)
        return self._vault_key

    def _associated(self) -> bytes:
        return MAGIC + self._account.encode()
