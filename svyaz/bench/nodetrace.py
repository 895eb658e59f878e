"""`svyaz node serve` with timers on, for the latency bench's `--trace-node`: what a send costs
inside the node, without changing the node's code.

    python -m svyaz.bench.nodetrace OUT.json node serve --region ru

Runs in the node's process, not the bench's (the one module of this package that imports the
node's packages, and only by name, once started). Two kinds of timer, both summed per wall-clock
second so the bench can cut out its measured window:
- every store command, by bulkhead, collection and command (pymongo command monitoring): the
  round trip as the driver sees it, on a worker thread;
- a few async steps of the messaging path (wrapped methods): the time as the trio task sees it,
  waiting for a worker thread and for locks included.
OUT is written when the node exits.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from pymongo import monitoring

# module:attribute path of each timed step. Module functions are looked up at call time by their
# callers, so replacing the module attribute times every call.
STEPS = (
    "svyaz.node.api:Api.handle",
    "svyaz.rbac.guard:Guard.check",
    "svyaz.messaging.service:PrivateChats.send",
    "svyaz.node.messaging:IdentityDirectory.exists",
    "svyaz.messaging.store:MongoMessageStore.insert",
    "svyaz.messaging.store:MongoMessageStore.head",
    "svyaz.messaging.service:PrivateChats._project_directly",
    "svyaz.messaging.store:MongoChatListStore.get",
    "svyaz.messaging.store:MongoChatListStore.put",
    "svyaz.messaging.writer:SequencedWriter.store",
    "svyaz.messaging.bus:KafkaEventPublisher.publish",
    "svyaz.messaging.projector:_apply_until_stored",
    "svyaz.messaging.notifier:Notifier.notify",
    "svyaz.node.authn:IdentityAuthenticator.revoked_sessions",
    # Federation (`svyaz bench federation`): the forwarder (a lane per partition), the outbox's
    # numbering and produce, and the inbound pipeline per record with its ledger and applier.
    "svyaz.node.federation.forwarder:Forwarder.forward",
    "svyaz.node.federation.outbox:Outbox.send",
    "svyaz.node.federation.outbox:MongoOutboxSeqs.allocate",
    "svyaz.node.federation.inbound:_Pipeline.handle",
    "svyaz.federation.ledger:InboundLedger.offer",
    "svyaz.federation.ledger:InboundLedger.commit",
    "svyaz.node.federation.applier:FederationApplier.apply",
    "svyaz.messaging.arrivals:PrivateArrivals.message",
)


class Timings:
    """second -> name -> [count, seconds]; thread-safe (store commands finish on worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.buckets: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0]))

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            cell = self.buckets[int(time.time())][name]
            cell[0] += 1
            cell[1] += seconds

    def dump(self) -> dict[str, dict[str, list[float]]]:
        with self._lock:
            return {str(second): {name: list(cell) for name, cell in names.items()}
                    for second, names in self.buckets.items()}


class StoreCommands(monitoring.CommandListener):
    def __init__(self, timings: Timings) -> None:
        self._timings = timings
        self._names: dict[tuple[Any, int], str] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        # getMore names its cursor id there, and the collection under "collection".
        collection = target if isinstance(target, str) else str(event.command.get("collection", ""))
        bulkhead = re.sub(r"^.*?_(?=[a-z]+$)", "", event.database_name)  # bench_ab12cd34_private -> private
        self._names[(event.connection_id, event.request_id)] = f"store {bulkhead}.{collection} {event.command_name}"

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._finish(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._finish(event)

    def _finish(self, event) -> None:
        name = self._names.pop((event.connection_id, event.request_id), f"store ? {event.command_name}")
        self._timings.add(name, event.duration_micros / 1e6)


def time_steps(timings: Timings, steps: tuple[str, ...] = STEPS) -> None:
    import trio

    for step in steps:
        module_name, _, path = step.partition(":")
        try:
            owner: Any = importlib.import_module(module_name)
            *parents, attribute = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            original = getattr(owner, attribute)
        except (ImportError, AttributeError):
            # The node's code moves on; a step that is gone is simply not timed.
            print(f"nodetrace: {step} not found; not timed", file=sys.stderr)
            continue
        setattr(owner, attribute, _timed(original, f"step {path}", timings, trio.current_time))


def _timed(function, name: str, timings: Timings, clock):
    @functools.wraps(function)
    async def timed(*args, **kwargs):
        began = clock()
        try:
            return await function(*args, **kwargs)
        finally:
            timings.add(name, clock() - began)

    return timed


def main(argv: list[str]) -> int:
    out, args = Path(argv[0]), argv[1:]
    timings = Timings()
    monitoring.register(StoreCommands(timings))
    time_steps(timings)
    from svyaz.cli import main as cli_main

    try:
        return cli_main(args)
    finally:
        out.write_text(json.dumps(timings.dump()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
