"""`svyaz bench crypto`: our GOST primitives from Python, next to `openssl speed` and gostcrypto.

Bulk primitives are timed on one buffer size for a few seconds each, by wall clock, in this
process; `openssl speed -elapsed` runs the same algorithm through the same provider right after,
so both see the same machine load. gostcrypto (pure Python, the reference implementation) is
timed on a small buffer, since it is about a thousand times slower. Public-key operations and a
secret-chat message are timed one call at a time and reported as p50/p95/p99 and ops/s.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from svyaz.bench.stats import percentile
from svyaz.gost import load_gost_provider
from svyaz.gost.aead import Aead
from svyaz.gost.keys import Curve, PrivateKey, PublicKey
from svyaz.gost.symmetric import Cipher, ctr, ctr_acpkm, omac

MIB = 1024 * 1024
REFERENCE_BYTES = 4096
_OPENSSL_RESULT = re.compile(r"^\+F:\d+:(?P<name>[^:]+):(?P<rate>[0-9.]+)", re.MULTILINE)


@dataclass(frozen=True)
class CryptoOptions:
    seconds: float = 2.0          # per bulk primitive, ours and openssl's each
    buffer_bytes: int = 16384     # one of openssl speed's own sizes
    operations: int = 300         # timed calls per public-key operation
    reference: bool = True        # also time gostcrypto


@dataclass(frozen=True)
class Bulk:
    """A bulk primitive: ours, and what to compare it with."""

    name: str
    ours: Callable[[bytes], Any]
    # `openssl speed` runs to compare with (e.g. ("-evp", "kuznyechik-ctr")); several run one after
    # the other on the same data, as a composite of ours does, so their rates combine as 1/Σ(1/r).
    openssl: tuple[tuple[str, str], ...]
    reference: Callable[[bytes], Any] | None


def run_crypto(options: CryptoOptions, progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    load_gost_provider()
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average_before": [round(v, 2) for v in os.getloadavg()]},
        "buffer_bytes": options.buffer_bytes, "seconds_each": options.seconds, "bulk": [], "operations": []}
    for bulk in bulk_primitives(options.reference):
        progress(f"bulk: {bulk.name}")
        ours = _throughput(bulk.ours, options.buffer_bytes, options.seconds)
        theirs = _openssl_speed(bulk.openssl, options.buffer_bytes, options.seconds)
        reference = (_throughput(bulk.reference, REFERENCE_BYTES, min(options.seconds, 1.0))
                     if bulk.reference is not None and options.reference else None)
        report["bulk"].append({
            "name": bulk.name, "ours_mb_s": _mb(ours), "openssl_speed": [" ".join(run) for run in bulk.openssl],
            "openssl_speed_mb_s": _mb(theirs), "share_of_openssl": _share(ours, theirs),
            "gostcrypto_mb_s": None if reference is None else round(reference / 1e6, 4)})
    for name, operation, reference in operations(options.reference):
        progress(f"operation: {name}")
        report["operations"].append({
            "name": name, **_latencies(operation, options.operations),
            "gostcrypto": None if reference is None else _latencies(reference, 5)})
    report["machine"]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    return report


def bulk_primitives(with_reference: bool) -> list[Bulk]:
    key, iv8, iv4 = secrets.token_bytes(32), bytes(8), bytes(4)
    aead, nonce = Aead(key), bytes(16)
    reference = _reference_bulk(key) if with_reference else {}
    return [
        Bulk("Streebog-256", lambda data: hashlib.new("md_gost12_256", data).digest(), (("-evp", "md_gost12_256"),),
             reference.get("Streebog-256")),
        Bulk("Streebog-512", lambda data: hashlib.new("md_gost12_512", data).digest(), (("-evp", "md_gost12_512"),),
             reference.get("Streebog-512")),
        Bulk("Kuznyechik-CTR", lambda data: ctr(Cipher.KUZNYECHIK, key, iv8, data), (("-evp", "kuznyechik-ctr"),),
             reference.get("Kuznyechik-CTR")),
        Bulk("Kuznyechik-CTR-ACPKM", lambda data: ctr_acpkm(Cipher.KUZNYECHIK, key, iv8, data),
             (("-evp", "kuznyechik-ctr-acpkm"),), None),
        # OMAC is CMAC: openssl's generic CMAC over the provider's Kuznyechik is the same computation.
        Bulk("Kuznyechik-OMAC", lambda data: omac(Cipher.KUZNYECHIK, key, data), (("-cmac", "kuznyechik-cbc"),),
             reference.get("Kuznyechik-OMAC")),
        Bulk("Magma-CTR", lambda data: ctr(Cipher.MAGMA, key, iv4, data), (("-evp", "magma-ctr"),),
             reference.get("Magma-CTR")),
        # openssl has no AEAD of these pieces that runs here; its own two pieces, one after the other.
        Bulk("AEAD seal (CTR-ACPKM + OMAC)", lambda data: aead.seal(nonce, data),
             (("-evp", "kuznyechik-ctr-acpkm"), ("-cmac", "kuznyechik-cbc")), None),
    ]


def operations(with_reference: bool) -> list[tuple[str, Callable[[], Any], Callable[[], Any] | None]]:
    from svyaz.e2e import handshake
    from svyaz.e2e.prekeys import DeviceKeys, check_bundle

    alice, bob = PrivateKey.generate(Curve.TC26_256_A), PrivateKey.generate(Curve.TC26_256_A)
    big = PrivateKey.generate(Curve.TC26_512_A)
    message, ukm = secrets.token_bytes(100), secrets.token_bytes(8)
    signature, big_signature = alice.sign(message), big.sign(message)
    alice_public, big_public, bob_public = alice.public_key(), big.public_key(), bob.public_key()
    bob_device = DeviceKeys.create(one_time=1)
    session = handshake.start(chat="sc/@a:ru/@b:ru/0123456789abcdef", me="@a:ru", peer="@b:ru",
                              identity=alice, peer_keys=check_bundle(bob_device.public_bundle(), max_one_time=1))
    aead, text = Aead(secrets.token_bytes(32)), secrets.token_bytes(1024)
    reference_sign, reference_verify = _reference_signatures() if with_reference else (None, None)
    return [
        ("sign GOST R 34.10-2012 256", lambda: alice.sign(message), reference_sign),
        ("verify GOST R 34.10-2012 256", lambda: alice_public.verify(signature, message), reference_verify),
        ("sign GOST R 34.10-2012 512", lambda: big.sign(message), None),
        ("verify GOST R 34.10-2012 512", lambda: big_public.verify(big_signature, message), None),
        ("VKO GOST R 34.10-2012 256", lambda: alice.agree(bob_public, ukm), None),
        ("generate key 256", lambda: PrivateKey.generate(Curve.TC26_256_A), None),
        ("load public key 256 (checks the point)", lambda: PublicKey.from_bytes(bob_public.to_bytes(), Curve.TC26_256_A),
         None),
        ("AEAD seal 1 KiB", lambda: aead.seal(bytes(16), text), None),
        ("secret message seal (100 chars)", lambda: session.seal("x" * 100), None),
    ]


def _throughput(function: Callable[[bytes], Any], size: int, seconds: float) -> float:
    """Bytes per second of wall clock."""
    data = secrets.token_bytes(size)
    function(data)  # warm: the first call fetches the algorithm
    done, started = 0, time.perf_counter()
    deadline = started + seconds
    while (now := time.perf_counter()) < deadline or done == 0:
        function(data)
        done += size
    return done / (now - started)


def _latencies(function: Callable[[], Any], count: int) -> dict[str, Any]:
    function()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    ordered = sorted(samples)
    return {"calls": count, "ops_s": round(count / sum(samples), 1),
            "p50_us": round(percentile(ordered, 0.50) * 1e6, 1), "p95_us": round(percentile(ordered, 0.95) * 1e6, 1),
            "p99_us": round(percentile(ordered, 0.99) * 1e6, 1)}


def _openssl_speed(runs: tuple[tuple[str, str], ...], size: int, seconds: float) -> float | None:
    """Bytes per second `openssl speed -elapsed` reports through the same GOST provider; for several
    runs, the rate of doing all of them in turn. None if openssl could not run one of them."""
    rates = [_openssl_speed_once(option, algorithm, size, seconds) for option, algorithm in runs]
    if not rates or None in rates:
        return None
    return 1.0 / sum(1.0 / rate for rate in rates)  # type: ignore[operator]  # None ruled out above


def _openssl_speed_once(option: str, algorithm: str, size: int, seconds: float) -> float | None:
    try:
        result = subprocess.run(
            ["openssl", "speed", "-provider", "default", "-provider", "gostprov", "-elapsed", option, algorithm,
             "-bytes", str(size), "-seconds", str(max(1, round(seconds))), "-mr"],
            capture_output=True, text=True, timeout=seconds * 4 + 30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _OPENSSL_RESULT.search(result.stdout)
    return float(match.group("rate")) if match else None


def _reference_bulk(key: bytes) -> dict[str, Callable[[bytes], Any]]:
    try:
        from gostcrypto import gostcipher, gosthash
    except ImportError:
        return {}

    def mac(data: bytes) -> bytes:
        state = gostcipher.new("kuznechik", bytearray(key), gostcipher.MODE_MAC)
        state.update(bytearray(data))
        return state.digest(16)

    return {
        "Streebog-256": lambda data: gosthash.new("streebog256", data=bytearray(data)).digest(),
        "Streebog-512": lambda data: gosthash.new("streebog512", data=bytearray(data)).digest(),
        "Kuznyechik-CTR": lambda data: gostcipher.new("kuznechik", bytearray(key), gostcipher.MODE_CTR,
                                                      init_vect=bytearray(8)).encrypt(bytearray(data)),
        "Kuznyechik-OMAC": mac,
        "Magma-CTR": lambda data: gostcipher.new("magma", bytearray(key), gostcipher.MODE_CTR,
                                                 init_vect=bytearray(4)).encrypt(bytearray(data)),
    }


def _reference_signatures() -> tuple[Callable[[], Any] | None, Callable[[], Any] | None]:
    try:
        from gostcrypto import gostsignature
    except ImportError:
        return None, None
    curve = gostsignature.CURVES_R_1323565_1_024_2019["id-tc26-gost-3410-2012-256-paramSetA"]
    signer = gostsignature.new(gostsignature.MODE_256, curve)
    private = bytearray(secrets.token_bytes(32))
    public = signer.public_key_generate(private)
    digest = bytearray(hashlib.new("md_gost12_256", b"message").digest())
    signature = signer.sign(private, digest)
    return lambda: signer.sign(private, digest), lambda: signer.verify(public, digest, signature)


def _mb(rate: float | None) -> float | None:
    return None if rate is None else round(rate / 1e6, 1)


def _share(ours: float, theirs: float | None) -> float | None:
    return None if not theirs else round(ours / theirs, 3)


def render_crypto(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [f"{machine['cpus']} CPUs, load average {machine['load_average_before']} before, "
             f"{machine['load_average_after']} after; bulk on {report['buffer_bytes']}-byte buffers, "
             f"{report['seconds_each']} s each, wall clock (openssl speed -elapsed)", "",
             f"{'bulk (MB/s)':<30} {'ours':>8} {'openssl':>8} {'share':>6} {'gostcrypto':>11}"]
    for row in report["bulk"]:
        lines.append(f"{row['name']:<30} {_cell(row['ours_mb_s']):>8} {_cell(row['openssl_speed_mb_s']):>8} "
                     f"{_cell(row['share_of_openssl'], '{:.0%}'):>6} {_cell(row['gostcrypto_mb_s'], '{:.3f}'):>11}")
    lines += ["", f"{'operation':<34} {'ops/s':>9} {'p50 µs':>8} {'p95 µs':>8} {'p99 µs':>8} {'gostcrypto ops/s':>17}"]
    for row in report["operations"]:
        reference = row["gostcrypto"]
        lines.append(f"{row['name']:<34} {row['ops_s']:>9} {row['p50_us']:>8} {row['p95_us']:>8} {row['p99_us']:>8} "
                     f"{_cell(reference and reference['ops_s']):>17}")
    return "\n".join(lines)


def _cell(value: Any, form: str = "{}") -> str:
    return "-" if value is None else form.format(value)
