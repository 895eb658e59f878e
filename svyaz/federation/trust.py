"""Which peer keys this node believes, and checking an envelope against them.

Each peer region has one or more pinned GOST R 34.10-2012 public keys (256-bit), from PEMs in the
node's configuration; a key is named by its fingerprint (`key_id`, 16 hex digits of Streebog-256
over its DER). Rotation is two pinned keys for a while: the peer starts signing with the new key
once every receiver pins both, and the old one is unpinned later. There is no trust on first use
and no key fetched from the network.

Configuration (the node's `[federation]` section, wired in by the node):

    [federation.peers]
    kz = ["/etc/svyaz/peers/kz-2025.pub.pem", "/etc/svyaz/peers/kz-2026.pub.pem"]
    by = ["-----BEGIN PUBLIC KEY-----\\n..."]      # a PEM inline is accepted too

May import only the standard library, `svyaz.errors`, `svyaz.regions`, `svyaz.gost` and
`svyaz.federation`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svyaz.federation.envelope import SIGNATURE_BYTES, Envelope
from svyaz.federation.errors import FederationConfigError, Forged, UnknownKey, UnknownOrigin
from svyaz.gost.errors import CryptoError
from svyaz.gost.keys import PublicKey
from svyaz.gost.libcrypto import OpenSslError
from svyaz.gost.provider import streebog256
from svyaz.regions import KNOWN_REGIONS

MAX_KEYS_PER_PEER = 4  # rotation needs two; more is a configuration nobody is cleaning up


@dataclass(frozen=True)
class PinnedKey:
    region: str
    key: PublicKey = field(repr=False)

    @property
    def key_id(self) -> str:
        return self.key.fingerprint()


@dataclass(frozen=True)
class VerifiedEvent:
    """An envelope whose signature verified under a pinned key of its origin. Built only by
    `PeerKeys.verify`. `digest` is Streebog-256 over the signed bytes: the identity of the content,
    which a redelivery repeats and a different event under the same id or seq does not."""

    envelope: Envelope
    digest: bytes

    @property
    def origin(self) -> str:
        return self.envelope.origin

    @property
    def stream(self) -> str:
        return self.envelope.stream

    @property
    def seq(self) -> int:
        return self.envelope.seq

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def kind(self) -> str:
        return self.envelope.kind

    @property
    def payload(self) -> Mapping[str, Any]:
        return self.envelope.payload


class PeerKeys:
    """The pinned keys of every peer region, for one local region."""

    def __init__(self, local_region: str, pinned: Sequence[PinnedKey]) -> None:
        if local_region not in KNOWN_REGIONS:
            raise FederationConfigError(f"region: unknown region {local_region!r}")
        self.local_region = local_region
        self._keys: dict[str, dict[str, PublicKey]] = {}
        for pin in pinned:
            if pin.region == local_region:
                raise FederationConfigError(f"federation.peers.{pin.region}: a node does not pin its own region")
            if pin.region not in KNOWN_REGIONS:
                raise FederationConfigError(f"federation.peers.{pin.region}: unknown region")
            if pin.key.curve.signature_bytes != SIGNATURE_BYTES:
                raise FederationConfigError(
                    f"federation.peers.{pin.region}: key {pin.key_id} is {pin.key.curve.name}, not a 256-bit GOST key")
            keys = self._keys.setdefault(pin.region, {})
            if pin.key_id in keys:
                raise FederationConfigError(f"federation.peers.{pin.region}: key {pin.key_id} is pinned twice")
            keys[pin.key_id] = pin.key
            if len(keys) > MAX_KEYS_PER_PEER:
                raise FederationConfigError(
                    f"federation.peers.{pin.region}: more than {MAX_KEYS_PER_PEER} keys pinned",
                    hint="unpin the keys the peer retired after its rotation")

    @property
    def peers(self) -> frozenset[str]:
        return frozenset(self._keys)

    def key_ids(self, region: str) -> tuple[str, ...]:
        return tuple(self._keys.get(region, ()))

    def verify(self, envelope: Envelope) -> VerifiedEvent:
        """The envelope as a VerifiedEvent, or UnknownOrigin / UnknownKey / Forged."""
        keys = self._keys.get(envelope.origin)
        if not keys:
            raise UnknownOrigin(f"no key is pinned for {envelope.origin!r} on {self.local_region}",
                                hint=f"pin {envelope.origin}'s federation key in [federation.peers]")
        key = keys.get(envelope.key_id)
        if key is None:
            raise UnknownKey(f"{envelope.origin} signed with key {envelope.key_id}, which is not pinned here "
                             f"(pinned: {', '.join(keys)})",
                             hint=f"if {envelope.origin} rotated its key, pin the new one beside the old")
        signed = envelope.signed_bytes()
        try:
            valid = key.verify(envelope.signature, signed)
        except (CryptoError, OpenSslError) as err:  # verification could not run; treat as not verified
            raise Forged(f"the signature of {envelope.id} could not be checked: {err}") from err
        if not valid:
            raise Forged(f"the signature of event {envelope.id} from {envelope.origin} does not verify "
                         f"under key {envelope.key_id}")
        return VerifiedEvent(envelope=envelope, digest=streebog256(signed))


def load_peer_keys(local_region: str, peers: Mapping[str, object], *,
                   read: Callable[[Path], bytes] = Path.read_bytes) -> PeerKeys:
    """PeerKeys from the `[federation.peers]` table: region -> a list of PEM file paths or inline
    PEMs. Raises FederationConfigError naming the key (`federation.peers.kz[1]`)."""
    if not isinstance(peers, Mapping):
        raise FederationConfigError("federation.peers: expected a table of region = [PEM paths]")
    pinned = []
    for region, entries in peers.items():
        where = f"federation.peers.{region}"
        if region not in KNOWN_REGIONS:
            raise FederationConfigError(f"{where}: unknown region", hint="regions: " + ", ".join(KNOWN_REGIONS))
        if isinstance(entries, (str, bytes)):
            entries = [entries]
        if not isinstance(entries, Sequence) or not entries:
            raise FederationConfigError(f"{where}: expected a non-empty list of PEM paths or PEMs")
        for index, entry in enumerate(entries):
            pinned.append(PinnedKey(region, _public_key(entry, f"{where}[{index}]", read)))
    return PeerKeys(local_region, pinned)


def _public_key(entry: object, where: str, read: Callable[[Path], bytes]) -> PublicKey:
    if isinstance(entry, str) and "-----BEGIN" not in entry:
        try:
            pem = read(Path(entry))
        except OSError as err:
            raise FederationConfigError(f"{where}: cannot read {entry} ({err.strerror or err})") from err
    elif isinstance(entry, (str, bytes)):
        pem = entry.encode("ascii", errors="replace") if isinstance(entry, str) else entry
    else:
        raise FederationConfigError(f"{where}: expected a PEM path or a PEM, got {type(entry).__name__}")
    try:
        return PublicKey.from_pem(pem)
    except (CryptoError, OpenSslError) as err:
        raise FederationConfigError(f"{where}: not a GOST R 34.10-2012 public key PEM: {err}") from err
