"""Who gets a push for a new message (svyaz/messaging/notifier.py), over in-memory ports."""

from __future__ import annotations

from svyaz.messaging import events
from svyaz.messaging.events import Event
from svyaz.messaging.ids import private_chat_id
from svyaz.messaging.notifier import Notifier, Push, chat_topic

ALICE, BOB, CAROL, DAN = "@alice:ru", "@bob:ru", "@carol:ru", "@dan:ru"
GROUP = "g/ru/00000000000000aa"
CHANNEL = "c/ru/00000000000000bb"


class World:
    def __init__(self, *, online=(), members=(), limit=1000) -> None:
        self.online = set(online)
        self.members = list(members)
        self.claimed: set[tuple] = set()
        self.sent: list[Push] = []
        self.member_queries: list[int] = []
        self.notifier = Notifier(presence=self, devices_of=self.devices_of, ledger=self, sender=self,
                                 members_of=self.members_of, group_size=self.group_size, group_push_limit=limit)

    async def get(self, account: str):          # presence
        return (account in self.online, 1.0)

    async def devices_of(self, account: str) -> list[str]:
        return [f"{account}-phone", f"{account}-laptop"]

    async def group_size(self, group: str) -> int:
        return len(self.members)

    async def members_of(self, group: str, limit: int) -> list[str]:
        self.member_queries.append(limit)
        return self.members[:limit]

    async def claim(self, push: Push) -> bool:  # ledger
        key = (push.chat, push.seq, push.device, push.topic)
        if key in self.claimed:
            return False
        self.claimed.add(key)
        return True

    async def send(self, push: Push) -> None:   # sender
        self.sent.append(push)


def created(chat: str, actor: str, seq: int = 1, recipients: tuple[str, ...] = ()) -> Event:
    return Event(kind=events.MESSAGE_CREATED, chat=chat, actor=actor, recipients=recipients or (actor,),
                 audience="" if chat.startswith("dm/") else chat, seq=seq, at=5.0)


async def test_a_private_message_is_pushed_to_each_device_of_an_offline_recipient_once():
    world = World()
    event = created(private_chat_id(ALICE, BOB), ALICE, recipients=(BOB, ALICE))
    await world.notifier.notify(event)
    await world.notifier.notify(event)   # a replay after a crash

    assert sorted((p.account, p.device) for p in world.sent) == [(BOB, f"{BOB}-laptop"), (BOB, f"{BOB}-phone")]


async def test_a_small_group_pushes_to_offline_members_but_not_the_sender_or_those_online():
    world = World(online={CAROL}, members=[ALICE, BOB, CAROL, DAN])
    await world.notifier.notify(created(GROUP, ALICE))

    assert sorted({p.account for p in world.sent}) == [BOB, DAN]
    assert len(world.sent) == 4 and all(p.topic is None for p in world.sent)


async def test_a_group_larger_than_the_limit_gets_one_topic_push_per_message():
    world = World(members=[f"@m{n}:ru" for n in range(50)], limit=10)
    await world.notifier.notify(created(GROUP, ALICE, seq=7))

    assert world.member_queries == []   # told by the member count: the members are never listed
    assert [(p.topic, p.seq, p.account, p.device) for p in world.sent] == [(chat_topic(GROUP), 7, None, None)]


async def test_a_channel_post_is_one_topic_push_whatever_the_subscribers():
    world = World()
    event = created(CHANNEL, ALICE, seq=3)
    await world.notifier.notify(event)
    await world.notifier.notify(event)

    assert [(p.topic, p.sender) for p in world.sent] == [(chat_topic(CHANNEL), ALICE)]
    assert world.member_queries == []


async def test_comments_are_not_pushed():
    world = World()
    await world.notifier.notify(created(f"{CHANNEL}/p/1", ALICE))
    assert world.sent == []
