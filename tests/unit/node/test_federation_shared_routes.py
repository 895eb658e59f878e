"""Where a group's or channel's changes go from its home node: the regions with members when the
change was made, one copy each; a region's first copy gets the member list."""

from __future__ import annotations

from svyaz.messaging import events
from svyaz.messaging.events import Event
from svyaz.messaging.model import ChatInfo
from svyaz.node.federation.shared_routes import SharedChatRoutes

GROUP, CHANNEL = "g/ru/0123456789abcdef", "c/ru/0123456789abcdef"


class Members:
    """Memberships as the store holds them now (possibly ahead of the events being routed)."""

    def __init__(self) -> None:
        self.roles: dict[str, dict[str, str]] = {}

    async def members(self, chat: str, *, limit: int) -> list[tuple[str, str]]:
        return sorted(self.roles.get(chat, {}).items())[:limit]

    async def info(self, chat: str) -> ChatInfo | None:
        return ChatInfo(chat=chat, kind="group", title="t", owner="@alice:ru", created_at=0.0)


def joined(chat: str, account: str, role: str = "member", actor: str = "@alice:ru") -> Event:
    return Event(kind=events.MEMBER_ADDED, chat=chat, actor=actor, recipients=(account,),
                 data={"account": account, "role": role})


def left(chat: str, account: str) -> Event:
    return Event(kind=events.MEMBER_REMOVED, chat=chat, actor=account, recipients=(account,),
                 data={"account": account})


def said(chat: str) -> Event:
    return Event(kind=events.MESSAGE_CREATED, chat=chat, actor="@alice:ru", recipients=("@alice:ru",), seq=1)


def routes(store: Members) -> SharedChatRoutes:
    return SharedChatRoutes(region="ru", groups=store, channels=store)


async def test_a_message_goes_only_where_members_were_when_it_was_sent_though_the_store_is_ahead():
    store = Members()
    store.roles[GROUP] = {"@alice:ru": "owner", "@bob:kz": "member"}   # Bob's join is still on its way
    router = routes(store)
    assert (await router.route(joined(GROUP, "@alice:ru", "owner", actor="@alice:ru"), GROUP)).regions == frozenset()
    assert (await router.route(said(GROUP), GROUP)).regions == frozenset()
    bob = await router.route(joined(GROUP, "@bob:kz"), GROUP)
    assert bob.regions == {"kz"} and bob.members == (("@alice:ru", "owner"), ("@bob:kz", "member"))
    assert (await router.route(said(GROUP), GROUP)).regions == {"kz"}


async def test_only_a_regions_first_member_brings_the_member_list():
    store = Members()
    router = routes(store)
    await router.route(joined(GROUP, "@alice:ru", "owner"), GROUP)
    store.roles[GROUP] = {"@alice:ru": "owner", "@bob:kz": "member", "@aigerim:kz": "member"}
    assert (await router.route(joined(GROUP, "@bob:kz"), GROUP)).members is not None
    second = await router.route(joined(GROUP, "@aigerim:kz"), GROUP)
    assert second.regions == {"kz"} and second.members is None


async def test_the_last_member_of_a_region_hears_of_its_removal_and_then_nothing():
    store = Members()
    router = routes(store)
    await router.route(joined(GROUP, "@alice:ru", "owner"), GROUP)
    store.roles[GROUP] = {"@alice:ru": "owner", "@dasha:by": "member"}
    await router.route(joined(GROUP, "@dasha:by"), GROUP)
    del store.roles[GROUP]["@dasha:by"]
    assert (await router.route(left(GROUP, "@dasha:by"), GROUP)).regions == {"by"}
    assert (await router.route(said(GROUP), GROUP)).regions == frozenset()


async def test_after_a_restart_a_group_is_counted_from_the_store_and_its_next_change_brings_the_list():
    store = Members()
    store.roles[GROUP] = {"@alice:ru": "owner", "@bob:kz": "member"}
    router = routes(store)
    assert (await router.route(said(GROUP), GROUP)).regions == {"kz"}
    store.roles[GROUP]["@dasha:by"] = "member"
    route = await router.route(joined(GROUP, "@dasha:by"), GROUP)
    assert route.regions == {"by", "kz"} and route.members is not None


async def test_a_channel_post_goes_once_per_region_and_a_subscription_only_to_its_subscribers_region():
    store = Members()
    router = routes(store)
    await router.route(joined(CHANNEL, "@editor:ru", "owner", actor="@editor:ru"), CHANNEL)
    for reader in ("@aigerim:kz", "@nurlan:kz", "@dasha:by"):
        store.roles.setdefault(CHANNEL, {})[reader] = "subscriber"
        route = await router.route(joined(CHANNEL, reader, "subscriber", actor=reader), CHANNEL)
        assert route.regions == {reader.rpartition(":")[2]} and route.members is None
    assert (await router.route(said(CHANNEL), CHANNEL)).regions == {"by", "kz"}
    comment = Event(kind=events.MESSAGE_CREATED, chat=f"{CHANNEL}/p/1", actor="@dasha:by", recipients=(), seq=1)
    assert router.audience_of(comment.chat) == CHANNEL
    assert (await router.route(comment, CHANNEL)).regions == {"by", "kz"}


def test_only_chats_homed_here_are_routed_here():
    router = routes(Members())
    assert router.audience_of("g/kz/0123456789abcdef") is None
    assert router.audience_of("dm/@alice:ru/@bob:kz") is None
    assert router.audience_of("not a chat") is None


async def test_a_retried_subscription_is_counted_once_though_a_comment_was_routed_in_between():
    # The forwarder routes a channel's comment threads (chats of their own, other partitions) in
    # parallel with the channel's own events: a comment must not make a retried subscription count twice.
    store = Members()
    router = routes(store)
    await router.route(joined(CHANNEL, "@editor:ru", "owner", actor="@editor:ru"), CHANNEL)
    store.roles[CHANNEL] = {"@editor:ru": "owner", "@aigerim:kz": "subscriber"}
    subscription = joined(CHANNEL, "@aigerim:kz", "subscriber", actor="@aigerim:kz")
    first = await router.route(subscription, CHANNEL)
    comment = Event(kind=events.MESSAGE_CREATED, chat=f"{CHANNEL}/p/1", actor="@editor:ru", recipients=(), seq=1)
    assert (await router.route(comment, CHANNEL)).regions == {"kz"}

    assert await router.route(subscription, CHANNEL) == first  # the send to kz failed once: asked again
    del store.roles[CHANNEL]["@aigerim:kz"]
    assert (await router.route(left(CHANNEL, "@aigerim:kz"), CHANNEL)).regions == {"kz"}
    assert (await router.route(said(CHANNEL), CHANNEL)).regions == frozenset()
