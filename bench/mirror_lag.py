"""Cross-border lag through the local stack's MirrorMaker 2: produce to `outbox.<target>` in one
region, consume `<source>.outbox.<target>` in the other, report p50/p95/p99.

    .venv/bin/python bench/mirror_lag.py [--source ru] [--target kz] [--rate 50] [--seconds 20] [--json]

Needs a running stack (`svyaz stack up`). Records carry their send time, so lag is measured on one
clock. A first record is sent and awaited before timing starts, so consumer group start-up is
not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer

from svyaz.stack.topology import kafka_bootstrap, parse_regions


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="ru")
    parser.add_argument("--target", default="kz")
    parser.add_argument("--rate", type=float, default=50.0, help="records per second (default 50)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to send (default 20)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    parse_regions(f"{args.source},{args.target}")

    run_id = uuid.uuid4().hex[:8].encode()
    topic_out, topic_in = f"outbox.{args.target}", f"{args.source}.outbox.{args.target}"
    producer = Producer({"bootstrap.servers": kafka_bootstrap(args.source), "linger.ms": 0})
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap(args.target), "group.id": f"bench-{run_id.decode()}",
                         "auto.offset.reset": "latest", "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    consumer.subscribe([topic_in])
    lags: list[float] = []
    expected = int(args.rate * args.seconds)
    done = threading.Event()
    warm = threading.Event()

    def receive() -> None:
        deadline = None
        while not done.is_set():
            msg = consumer.poll(0.1)
            if msg is None or msg.error() is not None or not (msg.key() or b"").startswith(run_id):
                if deadline and time.monotonic() > deadline:
                    return
                continue
            if msg.key().endswith(b"warmup"):
                warm.set()
                continue
            (sent,) = struct.unpack("!d", msg.value())
            lags.append((time.time() - sent) * 1000)
            if len(lags) >= expected:
                return
            deadline = time.monotonic() + 10

    receiver = threading.Thread(target=receive)
    receiver.start()
    # Until the consumer has its partition, records would be skipped ("latest"): resend the warm-up.
    while not warm.wait(1.0):
        producer.produce(topic_out, key=run_id + b"warmup", value=struct.pack("!d", time.time()))
        producer.flush(5)
    began = time.monotonic()
    for n in range(expected):
        target_time = began + n / args.rate
        time.sleep(max(0.0, target_time - time.monotonic()))
        producer.produce(topic_out, key=run_id + b"-%d" % n, value=struct.pack("!d", time.time()))
        producer.poll(0)
    producer.flush(10)
    receiver.join(timeout=args.seconds + 30)
    done.set()
    consumer.close()

    lags.sort()
    result = {
        "source": args.source, "target": args.target, "rate_per_s": args.rate, "seconds": args.seconds,
        "sent": expected, "received": len(lags), "cpus": os.cpu_count(),
        "lag_ms": {"p50": percentile(lags, 0.50), "p95": percentile(lags, 0.95),
                   "p99": percentile(lags, 0.99), "max": lags[-1]} if lags else None,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        lag = result["lag_ms"] or {}
        print(f"{args.source} -> {args.target}: {len(lags)}/{expected} records at {args.rate:g}/s; lag ms "
              f"p50 {lag.get('p50', 0):.1f}  p95 {lag.get('p95', 0):.1f}  p99 {lag.get('p99', 0):.1f}  "
              f"max {lag.get('max', 0):.1f}")
    return 0 if len(lags) == expected else 1


if __name__ == "__main__":
    sys.exit(main())
