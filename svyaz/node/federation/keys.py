"""The node's federation signing key, where its configuration says (`federation.key_dir`).

The file format and its checks live in `svyaz.federation.keyfile` (pure: the standard library and
`svyaz.gost`), so `svyaz federation keygen` and the node make and read exactly the same files: on
first start the node creates `node.key` (0600) and `node.pub.pem` itself; afterwards it loads them.
"""

from __future__ import annotations

from pathlib import Path

from svyaz.federation.envelope import Signer
from svyaz.federation.keyfile import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    load_or_generate_federation_key,
)
from svyaz.node.config import NodeConfig

__all__ = ["PRIVATE_KEY_FILE", "PUBLIC_KEY_FILE", "federation_signer", "load_or_generate_federation_key"]


def federation_signer(config: NodeConfig) -> Signer:
    """The Signer of this node's region with its federation key (created on first use). Blocking
    (file I/O and, the first time, key generation): call it at start-up or in a worker thread."""
    return Signer(config.region, load_or_generate_federation_key(Path(config.federation.key_dir)))
