"""Where the changes of a group or channel homed here go (the home node's forwarder asks per event).

- A message (a group's message, a channel's post or comment, an edit or a deletion) goes to every
  other region with at least one member or subscriber: one copy per region, however many of them
  live there.
- A group's member change goes to every such region too, and to the changed member's region (whose
  copy must learn of a removal even when it was the last member there). The first member of a
  region brings the member list (up to SNAPSHOT_MEMBERS), so the region's copy starts complete.
- A channel's subscription goes to the subscriber's region only: subscribers do not see each other.

The regions are counted per chat from the member changes, which the forwarder sees in the chat's
order (they are all events of the group or channel itself, one partition, which the forwarder
handles one event at a time; its comment threads, routed meanwhile in other partitions, only read
the count): for a chat created while this forwarder runs, from its first event (the owner joining),
so the count is exact and a message goes where members were when it was sent. For a chat first seen
later (after a restart, or a partition taken over from another process), the count starts from the
member list in the store, which may already hold members whose changes are still on their way; it
is counted again when a region's count falls low and after RECOUNT_EVERY member changes, and its
next member change brings the member list, in case a region's copy missed some.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace

from svyaz.messaging import events
from svyaz.messaging.errors import InvalidMessage
from svyaz.messaging.events import Event
from svyaz.messaging.ids import CHANNEL, COMMENTS, GROUP, chat_kind, home_of, thread_of
from svyaz.messaging.model import OWNER, ChatInfo
from svyaz.messaging.ports import Memberships

MAX_MEMBERS_READ = 1_000_000
SNAPSHOT_MEMBERS = 1_000  # about 60 KiB of a 256 KiB envelope; a larger group's copies list who joins later
_RECOUNT_BELOW = 10
RECOUNT_EVERY = 1_000
_CACHED_CHATS = 10_000
MEMBER_KINDS = (events.MEMBER_ADDED, events.MEMBER_REMOVED)


@dataclass(frozen=True)
class SharedRoute:
    regions: frozenset[str]                             # the other regions keeping a copy
    members: tuple[tuple[str, str], ...] | None = None  # a group's member list, for a region's first copy


class SharedChatRoutes:
    def __init__(self, *, region: str, groups: Memberships, channels: Memberships) -> None:
        self._region = region
        self._memberships = {GROUP: groups, CHANNEL: channels}
        self._tallies: OrderedDict[str, _Tally] = OrderedDict()
        self._info: OrderedDict[str, ChatInfo] = OrderedDict()

    def audience_of(self, chat: str) -> str | None:
        """The group or channel whose members `chat`'s changes concern, if it is homed here."""
        try:
            kind = chat_kind(chat)
        except InvalidMessage:
            return None
        audience = thread_of(chat)[0] if kind == COMMENTS else chat
        if kind not in (GROUP, CHANNEL, COMMENTS) or home_of(audience) != self._region:
            return None
        return audience

    async def route(self, event: Event, audience: str) -> SharedRoute:
        """A member change is worked out once: asked again (a retried send), it answers the same,
        and the tally changes only once the route is worked out, so a failure half-way changes
        nothing. Any other event only reads the tally (worked out again, it answers the same while
        no member change comes between), so routing it beside its audience's member changes is safe:
        the forwarder does, since a channel's comment threads are chats of their own, in other
        partitions than the channel."""
        tally = self._tallies.get(audience)
        if tally is not None and tally.last is not None and tally.last[0] == event.id:
            return tally.last[1]
        worked_out, route = await self._work_out(event, audience, tally)
        if event.kind in MEMBER_KINDS:
            worked_out.last = (event.id, route)
            _remember(self._tallies, audience, worked_out)
        elif audience in self._tallies:
            self._tallies.move_to_end(audience)
        else:  # counted from the store just now: kept for the next event, unless one was kept meanwhile
            _remember(self._tallies, audience, worked_out)
        return route

    async def _work_out(self, event: Event, audience: str, known: _Tally | None) -> tuple[_Tally, SharedRoute]:
        memberships = self._memberships[chat_kind(audience)]
        counted_now = known is None and not _creation(event)
        if known is None:
            # A chat's first event here: its creation (count from nothing, exactly), or a chat
            # created before (count what the store holds, and send the member list next time).
            tally = _Tally() if _creation(event) else await self._count(audience, memberships, exact=False)
        else:
            tally = replace(known, counts=Counter(known.counts))
        if event.kind not in MEMBER_KINDS:
            return tally, SharedRoute(tally.regions_besides(self._region))
        member_region = event.data["account"].rpartition(":")[2]
        first = event.kind == events.MEMBER_ADDED and (tally.counts[member_region] == 0 or tally.send_list)
        if not counted_now:  # a count just read from the store has this change already
            tally.counts[member_region] += 1 if event.kind == events.MEMBER_ADDED else -1
        if not tally.exact:
            tally.changes += 1
            if tally.counts[member_region] < _RECOUNT_BELOW or tally.changes >= RECOUNT_EVERY:
                recounted = await self._count(audience, memberships, exact=False)
                tally.counts, tally.changes = recounted.counts, 0
        if chat_kind(audience) == CHANNEL:  # a subscription concerns the subscriber's region only
            return tally, SharedRoute(frozenset({member_region}) - {self._region})
        regions = tally.regions_besides(self._region) | ({member_region} - {self._region})
        if first and regions:
            members = tuple(await memberships.members(audience, limit=SNAPSHOT_MEMBERS))
            tally.send_list = False
            return tally, SharedRoute(regions, members)
        return tally, SharedRoute(regions)

    async def info(self, chat: str) -> ChatInfo:
        info = self._info.get(chat)
        if info is None:
            info = await self._memberships[chat_kind(chat)].info(chat)
            if info is None:
                raise InvalidMessage(f"{chat[:80]} has an event but no record here")
            _remember(self._info, chat, info)
        return info

    @staticmethod
    async def _count(chat: str, memberships: Memberships, *, exact: bool) -> _Tally:
        members = await memberships.members(chat, limit=MAX_MEMBERS_READ)
        return _Tally(counts=Counter(account.rpartition(":")[2] for account, _role in members), exact=exact,
                      send_list=True)


@dataclass
class _Tally:
    """One chat's members per region, as far as the events seen here tell."""

    counts: Counter[str] = field(default_factory=Counter)
    exact: bool = True        # counted from the chat's creation on
    send_list: bool = False   # the next member change brings the member list
    changes: int = 0          # member changes since the last count from the store
    last: tuple[str, SharedRoute] | None = None  # the last event routed, and where

    def regions_besides(self, region: str) -> frozenset[str]:
        return frozenset(name for name, count in self.counts.items() if count > 0) - {region}


def _creation(event: Event) -> bool:
    """The first event of every group and channel: its owner joining it."""
    return (event.kind == events.MEMBER_ADDED and event.data.get("role") == OWNER
            and event.data.get("account") == event.actor)


def _remember(cache: OrderedDict, key: str, value) -> None:
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > _CACHED_CHATS:
        cache.popitem(last=False)
