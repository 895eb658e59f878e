"""The forwarder tells its observer of each send per destination and of each transient failure it
retries (svyaz/node/federation/forwarder.py), as the node's OutboundMonitor counts them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from svyaz.node.federation.forwarder import Forwarder
from svyaz.node.federation.outbox import OutboxUnavailable
from svyaz.node.federation.watch import OutboundMonitor
from svyaz.node.metrics import create_metrics
from tests.unit.node.test_federation_private_chats import ALICE, BOB, BORIS, keys, kz, ru  # noqa: F401


class FlakyOutbox:
    """Kafka away for the first `failures` sends."""

    def __init__(self, outbox, failures: int) -> None:
        self.outbox = outbox
        self.failures = failures

    async def send(self, **event) -> int:
        if self.failures:
            self.failures -= 1
            raise OutboxUnavailable("Kafka did not acknowledge the federation event within 5 s")
        return await self.outbox.send(**event)


def forwarder(region, outbox, monitor) -> Forwarder:
    return Forwarder(region=region.name, peers=frozenset({"kz"}), outbox=outbox, private_messages=region.messages,
                     observer=monitor)


async def test_each_acknowledged_send_is_counted_with_its_delay(ru):
    registry = CollectorRegistry()
    monitor = OutboundMonitor(create_metrics(registry), destinations=("kz",))
    sender = forwarder(ru, ru.outbox, monitor)
    await ru.chats.send(ALICE, to=BOB, text="привет", client_id="client-0001")
    await ru.chats.send(ALICE, to=BORIS, text="a chat that stays home", client_id="client-0002")

    for event in ru.publisher.events:
        await sender.forward(event)

    stats = monitor.snapshot()["kz"]
    assert (stats.sent, stats.failures) == (1, 0) and len(ru.outbox.records) == 1
    assert stats.last_delay_ms is not None and stats.last_delay_ms >= 0
    assert registry.get_sample_value("svyaz_federation_sent_total", {"destination": "kz"}) == 1
    assert registry.get_sample_value("svyaz_federation_forward_delay_seconds_count", {"destination": "kz"}) == 1


async def test_transient_failures_are_counted_and_the_event_still_goes(ru, autojump_clock):
    registry = CollectorRegistry()
    monitor = OutboundMonitor(create_metrics(registry), destinations=("kz",))
    sender = forwarder(ru, FlakyOutbox(ru.outbox, failures=2), monitor)
    await ru.chats.send(ALICE, to=BOB, text="through an outage", client_id="client-0001")

    await sender.forward(ru.publisher.events[-1])

    stats = monitor.snapshot()["kz"]
    assert (stats.sent, stats.failures) == (1, 2) and len(ru.outbox.records) == 1
    assert registry.get_sample_value("svyaz_federation_send_failures_total", {"destination": "kz"}) == 2


async def test_without_an_observer_the_forwarder_works_as_before(ru):
    await ru.chats.send(ALICE, to=BOB, text="привет", client_id="client-0001")
    await forwarder(ru, ru.outbox, None).forward(ru.publisher.events[-1])
    assert len(ru.outbox.records) == 1
