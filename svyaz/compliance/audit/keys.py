"""Where the node's audit signing key lives, and checking checkpoint signatures against public keys.

Default location: `$SVYAZ_STATE_DIR/<region>/audit/` (state dir `.svyaz/` in the working directory
when the variable is unset, as for the stack): `signing_key.pem` (0600, private) and
`signing_key.pub.pem` (public, for `svyaz audit verify` and auditors).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from svyaz.compliance.audit.checkpoint import Checkpoint
from svyaz.errors import SvyazError
from svyaz.gost import signing
from svyaz.regions import default_state_dir


def default_key_dir(region: str, environ: Mapping[str, str] = os.environ) -> Path:
    return default_state_dir(environ) / region / "audit"


def default_public_key(region: str, environ: Mapping[str, str] = os.environ) -> Path:
    return default_key_dir(region, environ) / signing.PUBLIC_KEY_FILE


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
                        hint="pass --public-key with the node's signing_key.pub.pem",
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
