"""Sign-ins per second and access-token checks per second, against the real store.

    .venv/bin/python bench/identity.py [--store-url mongodb://127.0.0.1:27117/] [--logins 200]
                                       [--checks 20000] [--threads 2] [--json]

Runs the identity service (PBKDF2-HMAC-Streebog-512 at the node's default iterations, FerretDB
store) in this process, in a database of its own that it drops afterwards. Measures:
- login: password hash check + throttle read + session insert + token issue, `--threads` callers;
- token check without store read (MAC + expiry: what every call on an open connection costs);
- token check with the session read (what a connection's periodic session check costs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from pymongo import MongoClient

from svyaz.gost import load_gost_provider
from svyaz.identity import passwords
from svyaz.identity.service import Device, IdentityConfig, IdentityService
from svyaz.identity.store import IdentityStore
from svyaz.identity.tokens import Keyring


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {"p50": round(pick(0.50), 3), "p95": round(pick(0.95), 3), "p99": round(pick(0.99), 3)}


def timed(function, count: int, threads: int) -> tuple[float, list[float]]:
    def one(_):
        began = time.perf_counter()
        function()
        return (time.perf_counter() - began) * 1000

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        samples = list(pool.map(one, range(count)))
    return count / (time.perf_counter() - began), samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store-url", default="mongodb://127.0.0.1:27117/")
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--checks", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load_gost_provider()

    database = f"bench_{uuid.uuid4().hex[:8]}_core"
    client = MongoClient(args.store_url)
    try:
        store = IdentityStore(client[database])
        store.ensure_indexes()
        keyring = Keyring(current="bench", keys={"bench": os.urandom(32)})
        service = IdentityService(store, keyring, IdentityConfig("ru"), granted_roles=lambda account: ())
        accounts = [f"@bench{n}:ru" for n in range(args.threads)]
        for account in accounts:
            service.register(account, "bench password river 77")
        device = Device(address="192.0.2.1", name="bench")
        turn = iter(range(10**9))

        def login():
            service.login(accounts[next(turn) % len(accounts)], "bench password river 77", device=device)

        login_rate, login_ms = timed(login, args.logins, args.threads)
        token = service.login(accounts[0], "bench password river 77", device=device).tokens.access_token
        check_rate, check_ms = timed(lambda: service.authenticate(token, check_session=False), args.checks, 1)
        session_rate, session_ms = timed(lambda: service.authenticate(token), min(args.checks, 2000), args.threads)
    finally:
        client.drop_database(database)
        client.close()

    result = {
        "cpus": os.cpu_count(), "threads": args.threads, "pbkdf2_iterations": passwords.DEFAULT_ITERATIONS,
        "store": args.store_url,
        "login": {"count": args.logins, "per_s": round(login_rate, 1), "latency_ms": percentiles(login_ms)},
        "token_check": {"count": args.checks, "per_s": round(check_rate), "latency_ms": percentiles(check_ms)},
        "token_and_session_check": {"count": len(session_ms), "per_s": round(session_rate, 1),
                                    "latency_ms": percentiles(session_ms)},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name in ("login", "token_check", "token_and_session_check"):
            row = result[name]
            print(f"{name:<24} {row['per_s']:>10}/s  p50 {row['latency_ms']['p50']} ms  "
                  f"p95 {row['latency_ms']['p95']} ms  p99 {row['latency_ms']['p99']} ms  (n={row['count']})")
        print(f"(PBKDF2 iterations {result['pbkdf2_iterations']}, {args.threads} threads, {result['cpus']} CPUs, "
              f"median login {statistics.median(login_ms):.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
