"""Where the node's audit signing key lives, and checking checkpoint signatures against public keys.

Default location: `$SVYAZ_STATE_DIR/<region>/audit/` (state dir `.svyaz/` in the working directory
when the variable is unset, as for the stack): `signing_key.pem` (0600, private),
`signing_key.pub.pem` (public, for `svyaz audit verify` and auditors), `retired/<key_id>.pub.pem`
(public keys of earlier keys, kept by `svyaz audit keygen --rotate` so that their checkpoints still
verify) and `anchors.jsonl` (a copy of every checkpoint made with these keys, see `anchors`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from svyaz.compliance.audit.checkpoint import Checkpoint
from svyaz.errors import SvyazError
from svyaz.gost import signing
from svyaz.regions import default_state_dir

RETIRED_DIR = "retired"
RETIRED_PUBLIC_SUFFIX = ".pub.pem"
ANCHORS_FILE = "anchors.jsonl"


def default_key_dir(region: str, environ: Mapping[str, str] = os.environ) -> Path:
    return default_state_dir(environ) / region / "audit"


def retired_public_key(key_dir: Path, key_id: str) -> Path:
    return key_dir / RETIRED_DIR / f"{key_id}{RETIRED_PUBLIC_SUFFIX}"


def trusted_public_keys(key_dir: Path) -> list[Path]:
    """The current public key and every retired one in `key_dir` (listed now, read later)."""
    retired = sorted((key_dir / RETIRED_DIR).glob(f"*{RETIRED_PUBLIC_SUFFIX}"))
    return [key_dir / signing.PUBLIC_KEY_FILE, *retired]


class PublicKeys:
    """A `verify.SignatureCheck`: genuine means signed by one of these keys (matched by key_id).

    Files are read on the first checkpoint, so verifying a log without checkpoints needs no key.
    """

    def __init__(self, paths: Iterable[Path] = (), pems: Iterable[bytes] = ()) -> None:
        self._paths = list(paths)
        self._pems = list(pems)
        self._by_id: dict[str, bytes] | None = None

    def _keys(self) -> dict[str, bytes]:
        if self._by_id is None:
            pems = list(self._pems)
            for path in self._paths:
                try:
                    pems.append(path.read_bytes())
                except OSError as err:
                    raise SvyazError(
                        f"cannot read the audit public key {path}: {err.strerror}",
                        hint="pass --key-dir with the node's audit key directory, or --public-key "
                             "with its public keys",
                    ) from err
            self._by_id = {signing.key_id(pem): pem for pem in pems}
        return self._by_id

    def __call__(self, checkpoint: Checkpoint) -> str | None:
        keys = self._keys()
        pem = keys.get(checkpoint.key_id)
        if pem is None:
            known = ", ".join(sorted(keys)) or "none"
            return f"it names key {checkpoint.key_id}, which is not a trusted key (trusted: {known})"
        if len(checkpoint.signature) != signing.SIGNATURE_BYTES:
            return f"its signature has {len(checkpoint.signature)} bytes, not {signing.SIGNATURE_BYTES}"
        if not signing.verify(checkpoint.payload(), checkpoint.signature, pem):
            return f"its signature does not verify with key {checkpoint.key_id}"
        return None
