"""Where a conversation may be stored and where its events may be sent (the residency rule).

A conversation is stored on the home node of each of its participants (the region in an account
id: `@bob:kz` lives in kz) and, for a group or channel, on its own home node (the region in its
id, `g/ru/...`), which numbers its messages; nowhere else. An event leaves its origin only toward
the other regions that store the conversation: its peers. So:

- a private chat: the two participants' regions;
- a group: its home region and its members' regions;
- a channel (and a post's comment thread): its home region and the regions that have at least
  one subscriber. One copy per post per region, however many subscribers live there: the route is
  computed from the set of subscriber regions, never from the subscriber list;
- a conversation whose participants all live in the origin region has no peers: nothing leaves.

A node asked to route a conversation it does not store refuses (ResidencyViolation): it should
not hold it in the first place.

May import only the standard library, `svyaz.regions`, `svyaz.identity.accounts` (and its errors)
and `svyaz.federation`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from svyaz.federation.errors import ResidencyViolation
from svyaz.identity.accounts import parse_account_id
from svyaz.identity.errors import MalformedAccountId
from svyaz.regions import KNOWN_REGIONS


@dataclass(frozen=True)
class Route:
    origin: str
    stored_in: frozenset[str]  # every region that keeps a copy, the origin among them

    @property
    def peers(self) -> frozenset[str]:
        """The regions the origin sends the event to: `outbox.<peer>` for each."""
        return self.stored_in - {self.origin}

    def sorted_peers(self) -> tuple[str, ...]:
        return tuple(sorted(self.peers))


def home_region(account: str) -> str:
    """`"@bob:kz"` -> `"kz"`; ResidencyViolation for anything that is not an account id."""
    try:
        return parse_account_id(account).region
    except MalformedAccountId as err:
        raise ResidencyViolation(f"cannot tell where {str(account)[:64]!r} lives: {err}") from None


def regions_of(accounts: Iterable[str]) -> frozenset[str]:
    """The home regions of `accounts` (a set: three accounts in kz are one region)."""
    return frozenset(home_region(account) for account in accounts)


def route(origin: str, regions: Iterable[str]) -> Route:
    """The route of an event from `origin` in a conversation stored in `regions`."""
    _check_region(origin, "origin")
    stored_in = frozenset(regions)
    for region in stored_in:
        _check_region(region, "a participant's region")
    if origin not in stored_in:
        raise ResidencyViolation(
            f"{origin} does not store this conversation (stored in {', '.join(sorted(stored_in)) or 'nowhere'}) "
            f"and may not send its events")
    return Route(origin=origin, stored_in=stored_in)


def private_route(origin: str, one: str, other: str) -> Route:
    """A private (or secret) chat between accounts `one` and `other`."""
    return route(origin, regions_of((one, other)))


def group_route(origin: str, group_home: str, members: Iterable[str]) -> Route:
    """A group homed in `group_home` (the region in its id) with `members` (account ids)."""
    _check_region(group_home, "the group's home")
    return route(origin, regions_of(members) | {group_home})


def channel_route(origin: str, channel_home: str, subscriber_regions: Iterable[str]) -> Route:
    """A channel post, or a comment on one: the channel's home plus every region with at least one
    subscriber. Pass the regions (the node keeps a count per region), not a million accounts;
    `regions_of` turns a small list of accounts into them."""
    _check_region(channel_home, "the channel's home")
    return route(origin, frozenset(subscriber_regions) | {channel_home})


def _check_region(region: object, what: str) -> None:
    if region not in KNOWN_REGIONS:
        raise ResidencyViolation(f"{what} {region!r} is not a known region ({', '.join(KNOWN_REGIONS)})")
