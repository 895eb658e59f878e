"""What groups and channels share: membership checks by role, one event per change addressed to
the chat's audience, and the history of a chat with many members."""

from __future__ import annotations

from collections.abc import Callable, Collection

from svyaz.messaging import events
from svyaz.messaging.errors import NotAParticipant, Unreachable
from svyaz.messaging.events import Event
from svyaz.messaging.ids import home_of
from svyaz.messaging.model import Message
from svyaz.messaging.ports import EventPublisher, HomeNode, Memberships


class Homes:
    """Where a change to a group or channel is made: here, or, for one homed in another region,
    on its home node (through `home`), which numbers its messages and decides its membership."""

    def __init__(self, region: str, peers: frozenset[str] = frozenset(), home: HomeNode | None = None) -> None:
        self._region = region
        self._peers = peers
        self._home = home

    def abroad(self, chat: str) -> bool:
        region = home_of(chat)
        if region == self._region:
            return False
        if self._home is None or region not in self._peers:
            raise Unreachable(f"{chat} lives in region {region}, which this node does not federate with")
        return True

    def may_ask_abroad(self, actor: str) -> bool:
        """Whether a call by `actor` may wait on another region: only one made here, not a change
        run here for a member abroad (the federation consumer running it must not wait on itself)."""
        return actor.rsplit(":", 1)[1] == self._region

    def may_join(self, account: str) -> bool:
        """Whether `account` lives here or in a region this node federates with."""
        region = account.rsplit(":", 1)[1]
        return region == self._region or region in self._peers

    async def run(self, chat: str, actor: str, action: str, **args) -> dict:
        assert self._home is not None, "run only what abroad() said is abroad"
        return await self._home.run(chat, actor, action, args)

    async def message(self, chat: str, actor: str, action: str, **args) -> Message:
        return Message.from_wire((await self.run(chat, actor, action, **args))["message"])


class Audience:
    def __init__(self, memberships: Memberships, publisher: EventPublisher, clock: Callable[[], float]) -> None:
        self.memberships = memberships
        self._publisher = publisher
        self._clock = clock

    async def require(self, chat: str, account: str, roles: Collection[str] | None = None) -> str:
        """`account`'s role in `chat`; NotAParticipant unless it holds one (of `roles`, if given).
        The same answer whether or not the chat exists."""
        role = await self.memberships.role(chat, account)
        if role is None or (roles is not None and role not in roles):
            raise NotAParticipant("you are not in that chat" if role is None else "your role there does not allow it")
        return role

    async def tell(self, kind: str, chat: str, actor: str, *, seq: int = 0, data: dict | None = None,
                   audience: str | None = None, at: float | None = None) -> None:
        """One event for everyone in `audience` (default: `chat`; "" for the actor's devices only)
        connected anywhere."""
        await self._publisher.publish(Event(kind=kind, chat=chat, actor=actor, recipients=(actor,),
                                            audience=chat if audience is None else audience, seq=seq,
                                            at=self._clock() if at is None else at, data=data or {}))

    async def member_changed(self, chat: str, actor: str, account: str, role: str | None, *,
                             tell_chat: bool = True) -> None:
        """Tell the account itself (whose gateway must start or stop delivering) and the actor, and
        with `tell_chat` everyone in the chat. A channel does not: its subscribers do not see each
        other, and a million subscriptions must not become a million events to every reader."""
        kind = events.MEMBER_ADDED if role else events.MEMBER_REMOVED
        data = {"account": account, **({"role": role} if role else {})}
        await self._publisher.publish(Event(kind=kind, chat=chat, actor=actor, recipients=(account, actor),
                                            audience=chat if tell_chat else "", at=self._clock(), data=data))
