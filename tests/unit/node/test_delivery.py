"""Local fan-out: each event reaches the outboxes of its recipients held here, and a full outbox
gives up on its connection instead of holding the feed."""

from __future__ import annotations

import trio

from svyaz.node.delivery import LocalDelivery


async def test_an_event_reaches_every_connection_of_each_recipient_and_no_one_else():
    delivery = LocalDelivery()
    phone, laptop, other = (trio.open_memory_channel(4) for _ in range(3))
    async with delivery.attach("@bob:ru", phone[0], lambda: None), \
            delivery.attach("@bob:ru", laptop[0], lambda: None), delivery.attach("@eve:ru", other[0], lambda: None):
        delivery.push(["@bob:ru", "@alice:ru"], {"type": "event", "seq": 1})
    assert phone[1].receive_nowait() == laptop[1].receive_nowait() == {"type": "event", "seq": 1}
    assert other[1].statistics().current_buffer_used == 0
    assert delivery.delivered == 2


async def test_a_full_outbox_is_reported_and_the_others_still_get_the_event():
    delivery = LocalDelivery()
    slow_send, _ = trio.open_memory_channel(1)
    fast_send, fast_receive = trio.open_memory_channel(8)
    gave_up = []
    async with delivery.attach("@bob:ru", slow_send, lambda: gave_up.append("slow")), \
            delivery.attach("@bob:ru", fast_send, lambda: gave_up.append("fast")):
        for seq in (1, 2, 3):
            delivery.push(["@bob:ru"], {"seq": seq})
    assert gave_up == ["slow", "slow"]
    assert [fast_receive.receive_nowait()["seq"] for _ in range(3)] == [1, 2, 3]
    assert delivery.overflowed == 2


async def test_a_detached_or_closed_connection_gets_nothing():
    delivery = LocalDelivery()
    send, receive = trio.open_memory_channel(4)
    async with delivery.attach("@bob:ru", send, lambda: None):
        assert delivery.connected("@bob:ru")
        send.close()
        delivery.push(["@bob:ru"], {"seq": 1})  # a closing connection: skipped, no error
    assert not delivery.connected("@bob:ru")
    delivery.push(["@bob:ru"], {"seq": 2})
    assert delivery.delivered == 0


async def test_a_group_event_reaches_the_connected_members_and_follows_joins_and_leaves():
    from svyaz.messaging.events import Event

    memberships = {"@bob:ru": ["g/ru/0123456789abcdef"], "@eve:ru": []}

    async def chats_of(account):
        return memberships[account]

    delivery = LocalDelivery(chats_of)
    bob, eve = trio.open_memory_channel(8), trio.open_memory_channel(8)
    group = "g/ru/0123456789abcdef"
    async with delivery.attach("@bob:ru", bob[0], lambda: None), delivery.attach("@eve:ru", eve[0], lambda: None):
        delivery.deliver(Event(kind="message.created", chat=group, actor="@ann:ru", recipients=("@ann:ru",),
                               audience=group, seq=1))
        delivery.deliver(Event(kind="member.added", chat=group, actor="@ann:ru", recipients=("@eve:ru",),
                               audience=group, data={"account": "@eve:ru", "role": "member"}))
        delivery.deliver(Event(kind="message.created", chat=group, actor="@ann:ru", recipients=("@ann:ru",),
                               audience=group, seq=2))
        delivery.deliver(Event(kind="member.removed", chat=group, actor="@ann:ru", recipients=("@bob:ru",),
                               audience=group, data={"account": "@bob:ru"}))
        delivery.deliver(Event(kind="message.created", chat=group, actor="@ann:ru", recipients=("@ann:ru",),
                               audience=group, seq=3))

    def kinds(receive):
        frames = []
        while True:
            try:
                frames.append(receive.receive_nowait())
            except trio.WouldBlock:
                return [(f["kind"], f["seq"]) for f in frames]

    assert kinds(bob[1]) == [("message.created", 1), ("member.added", 0), ("message.created", 2),
                             ("member.removed", 0)]
    assert kinds(eve[1]) == [("member.added", 0), ("message.created", 2), ("member.removed", 0),
                             ("message.created", 3)]
