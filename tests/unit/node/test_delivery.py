"""Local fan-out: each event reaches the outboxes of its recipients held here, and a full outbox
gives up on its connection instead of holding the feed."""

from __future__ import annotations

import trio

from svyaz.node.delivery import LocalDelivery


def test_an_event_reaches_every_connection_of_each_recipient_and_no_one_else():
    delivery = LocalDelivery()
    phone, laptop, other = (trio.open_memory_channel(4) for _ in range(3))
    with delivery.attach("@bob:ru", phone[0], lambda: None), delivery.attach("@bob:ru", laptop[0], lambda: None), \
            delivery.attach("@eve:ru", other[0], lambda: None):
        delivery.push(["@bob:ru", "@alice:ru"], {"type": "event", "seq": 1})
    assert phone[1].receive_nowait() == laptop[1].receive_nowait() == {"type": "event", "seq": 1}
    assert other[1].statistics().current_buffer_used == 0
    assert delivery.delivered == 2


def test_a_full_outbox_is_reported_and_the_others_still_get_the_event():
    delivery = LocalDelivery()
    slow_send, _ = trio.open_memory_channel(1)
    fast_send, fast_receive = trio.open_memory_channel(8)
    gave_up = []
    with delivery.attach("@bob:ru", slow_send, lambda: gave_up.append("slow")), \
            delivery.attach("@bob:ru", fast_send, lambda: gave_up.append("fast")):
        for seq in (1, 2, 3):
            delivery.push(["@bob:ru"], {"seq": seq})
    assert gave_up == ["slow", "slow"]
    assert [fast_receive.receive_nowait()["seq"] for _ in range(3)] == [1, 2, 3]
    assert delivery.overflowed == 2


def test_a_detached_or_closed_connection_gets_nothing():
    delivery = LocalDelivery()
    send, receive = trio.open_memory_channel(4)
    with delivery.attach("@bob:ru", send, lambda: None):
        assert delivery.connected("@bob:ru")
        send.close()
        delivery.push(["@bob:ru"], {"seq": 1})  # a closing connection: skipped, no error
    assert not delivery.connected("@bob:ru")
    delivery.push(["@bob:ru"], {"seq": 2})
    assert delivery.delivered == 0
