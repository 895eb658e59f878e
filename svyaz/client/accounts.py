"""Several accounts on one device: which accounts exist and which is current, and their tokens.

The account list and the current choice are plain JSON (`accounts.json`, no secrets). Tokens are
secrets: they go to the OS keyring (Secret Service, Keychain) through `keyring`, or, on a headless
box with no keyring, to a GOST-sealed file unlocked by `SVYAZ_KEYRING_PASSPHRASE`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import keyring
import keyring.backends.fail
import keyring.errors

from svyaz.client.sealed_file import KDF_ITERATIONS, MIN_KDF_ITERATIONS, read_sealed, write_sealed
from svyaz.errors import SvyazError

KEYRING_SERVICE = "svyaz"
PASSPHRASE_VARIABLE = "SVYAZ_KEYRING_PASSPHRASE"
ITERATIONS_VARIABLE = "SVYAZ_KEYRING_KDF_ITERATIONS"


class AccountBookError(SvyazError):
    code = "account_book_error"


@dataclass(frozen=True)
class Tokens:
    session_id: str
    access_token: str
    refresh_token: str


class SecretStore(Protocol):
    def get(self, account: str) -> str | None: ...
    def set(self, account: str, value: str) -> None: ...
    def delete(self, account: str) -> None: ...


class KeyringSecrets:
    """The OS keyring; the OS decides which programs may read it."""

    def get(self, account: str) -> str | None:
        return keyring.get_password(KEYRING_SERVICE, account)

    def set(self, account: str, value: str) -> None:
        keyring.set_password(KEYRING_SERVICE, account, value)

    def delete(self, account: str) -> None:
        try:
            keyring.delete_password(KEYRING_SERVICE, account)
        except keyring.errors.PasswordDeleteError:
            pass


class SealedFileSecrets:
    """All accounts' secrets in one GOST-sealed file, for machines without a keyring."""

    def __init__(self, path: Path, passphrase: str, *, iterations: int = KDF_ITERATIONS) -> None:
        self.path = path
        self._passphrase = passphrase
        self._iterations = iterations  # for a new file; an existing one keeps its own

    def _load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        return json.loads(read_sealed(self.path, self._passphrase))

    def _save(self, secrets: dict[str, str]) -> None:
        write_sealed(self.path, json.dumps(secrets).encode(), self._passphrase, iterations=self._iterations)

    def get(self, account: str) -> str | None:
        return self._load().get(account)

    def set(self, account: str, value: str) -> None:
        secrets = self._load()
        secrets[account] = value
        self._save(secrets)

    def delete(self, account: str) -> None:
        secrets = self._load()
        if secrets.pop(account, None) is not None:
            self._save(secrets)


def default_secret_store(directory: Path) -> SecretStore:
    if not isinstance(keyring.get_keyring(), keyring.backends.fail.Keyring):
        return KeyringSecrets()
    passphrase = os.environ.get(PASSPHRASE_VARIABLE)
    if not passphrase:
        raise AccountBookError(
            "no OS keyring on this machine to keep your tokens in",
            hint=f"set {PASSPHRASE_VARIABLE} to a passphrase: tokens are then kept in "
                 f"{directory / 'tokens.sealed'}, sealed with GOST (Kuznyechik + HMAC-Streebog)",
        )
    return SealedFileSecrets(directory / "tokens.sealed", passphrase, iterations=_kdf_iterations())


def _kdf_iterations() -> int:
    """The sealed file's work factor for a new file: the default, or SVYAZ_KEYRING_KDF_ITERATIONS
    (the test suite lowers it, as it lowers the node's password hashing)."""
    raw = os.environ.get(ITERATIONS_VARIABLE)
    if raw is None:
        return KDF_ITERATIONS
    if not raw.isdigit() or int(raw) < MIN_KDF_ITERATIONS:
        raise AccountBookError(f"{ITERATIONS_VARIABLE} must be a whole number of at least {MIN_KDF_ITERATIONS}")
    return int(raw)


def default_directory() -> Path:
    explicit = os.environ.get("SVYAZ_CLIENT_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "svyaz"


@dataclass(frozen=True)
class AccountEntry:
    account: str
    node_url: str
    current: bool


class AccountBook:
    def __init__(self, directory: Path, secrets: SecretStore) -> None:
        self.directory = directory
        self.secrets = secrets  # also keeps secret-chat vault keys (svyaz.client.secret_vault)
        self._index_path = directory / "accounts.json"
        self._secrets = secrets

    def _index(self) -> dict:
        try:
            return json.loads(self._index_path.read_text())
        except FileNotFoundError:
            return {"current": None, "accounts": {}}

    def _save_index(self, index: dict) -> None:
        self._index_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self._index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(index, indent=2))
        tmp.replace(self._index_path)

    def add(self, account: str, node_url: str, tokens: Tokens, *, make_current: bool = True) -> None:
        self._secrets.set(account, json.dumps(asdict(tokens)))
        index = self._index()
        index["accounts"][account] = {"node_url": node_url}
        if make_current or index["current"] is None:
            index["current"] = account
        self._save_index(index)

    def update_tokens(self, account: str, tokens: Tokens) -> None:
        self._require(account)
        self._secrets.set(account, json.dumps(asdict(tokens)))

    def tokens(self, account: str) -> Tokens:
        self._require(account)
        raw = self._secrets.get(account)
        if raw is None:
            raise AccountBookError(f"no tokens stored for {account}", hint=f"svyaz login --account {account}")
        return Tokens(**json.loads(raw))

    def node_url(self, account: str) -> str:
        return self._require(account)["node_url"]

    def entries(self) -> list[AccountEntry]:
        index = self._index()
        return [AccountEntry(account, fields["node_url"], account == index["current"])
                for account, fields in sorted(index["accounts"].items())]

    def use(self, account: str) -> None:
        self._require(account)
        index = self._index()
        index["current"] = account
        self._save_index(index)

    def current(self) -> str:
        current = self._index()["current"]
        if current is None:
            raise AccountBookError("no account on this device yet",
                                   hint="svyaz account register ... or svyaz login --account @you:ru")
        return current

    def remove(self, account: str) -> None:
        self._require(account)
        self._secrets.delete(account)
        index = self._index()
        del index["accounts"][account]
        if index["current"] == account:
            index["current"] = next(iter(sorted(index["accounts"])), None)
        self._save_index(index)

    def _require(self, account: str) -> dict:
        fields = self._index()["accounts"].get(account)
        if fields is None:
            raise AccountBookError(f"{account} is not on this device", hint="svyaz account list")
        return fields
