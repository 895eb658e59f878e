"""Groups: create, invite, remove, admin rights, send, history, read positions.

Designed for 200,000 members: a message is one stored document and one event addressed to the
group (gateways deliver it to the members they hold); nothing is written per member. Members'
unread counts come from the group's head and each member's read cursor.

A **secret** group (made so at creation, for good) takes only sealed messages (`send_sealed`), which
its members' devices encrypt with sender keys (svyaz.e2e.group); the node checks their shape and the
region's escrow rule, stores and relays them, and refuses text there. It has at most
MAX_SECRET_MEMBERS members: each member hands its sender key to every other one over a 1:1 secret
chat, and again whenever someone leaves, so the work grows with the square of the size.

**Across borders** a group has members in several regions. Its home node (the region in its id)
numbers its messages and decides its membership; the other members' home nodes keep a copy
(`svyaz.messaging.shared_replica`), from which their members read. A change a member abroad makes
(send, edit, delete, invite, remove, admin) is run on the home node (`HomeNode`), so every rule is
checked in one place, and comes back to every copy as the home's event.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Sequence

from svyaz.identity.accounts import parse_account_id
from svyaz.identity.errors import MalformedAccountId
from svyaz.messaging import events
from svyaz.e2e import group as sealed_group
from svyaz.e2e.errors import MalformedEnvelope
from svyaz.messaging.content import clean_sealed, clean_text, clean_title
from svyaz.messaging.errors import InvalidMessage, MessageNotFound, NotAParticipant, UnknownRecipient, Unreachable
from svyaz.messaging.ids import GROUP, chat_kind, check_client_id, new_group_id
from svyaz.messaging.model import ADMIN, MANAGERS, MEMBER, OWNER, SECRET_GROUP, ChatInfo, Message
from svyaz.messaging.paging import page_range
from svyaz.messaging.ports import AccountDirectory, EventPublisher, HomeNode, Memberships
from svyaz.messaging.ratelimit import RateLimiter
from svyaz.messaging.revisions import GROUP_MESSAGES, Revisions
from svyaz.messaging.secret_policy import SecretChatPolicy
from svyaz.messaging.shared import Audience, Homes
from svyaz.messaging.writer import SequencedWriter

MAX_INVITES = 1000
MAX_SECRET_MEMBERS = 50
# Whether a group is secret never changes, so it is remembered (up to this many groups).
_SECRECY_CACHE = 10_000


class GroupChats:
    def __init__(self, *, region: str, writer: SequencedWriter, memberships: Memberships,
                 publisher: EventPublisher, directory: AccountDirectory, send_limit: RateLimiter | None = None,
                 secret_policy: SecretChatPolicy = SecretChatPolicy(),
                 peers: frozenset[str] = frozenset(), home: HomeNode | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """`peers`: the regions whose accounts may be members; `home`: how changes to groups homed
        in those regions reach their home nodes."""
        self._region = region
        self._homes = Homes(region, peers, home)
        self._secret_policy = secret_policy
        self._writer = writer
        self._audience = Audience(memberships, publisher, clock)
        self._memberships = memberships
        self._directory = directory
        self._send_limit = send_limit
        self._clock = clock
        self._revisions = Revisions(writer, self._audience, clock)
        self._secrecy: dict[str, bool] = {}

    async def create(self, owner: str, *, title: object, members: Sequence[object] = (),
                     secret: bool = False) -> ChatInfo:
        """A group owned by `owner`; a `secret` one takes sealed messages only."""
        info = ChatInfo(chat=new_group_id(self._region), kind=SECRET_GROUP if secret else GROUP,
                        title=clean_title(title), owner=owner, created_at=self._clock())
        if secret and len(members) + 1 > MAX_SECRET_MEMBERS:  # before looking up that many accounts
            raise InvalidMessage(_too_many(len(members) + 1))
        invited = await self._checked_accounts(members, besides=owner)
        await self._memberships.create(info)
        await self._memberships.set_role(info.chat, owner, OWNER)
        await self._audience.member_changed(info.chat, owner, owner, OWNER)
        for account in invited:
            await self._add(info.chat, owner, account, MEMBER)
        return info

    async def invite(self, actor: str, *, chat: str, accounts: Sequence[object]) -> list[str]:
        """Add accounts (owner and admins only); returns those newly added."""
        await self._audience.require(chat, actor, MANAGERS)
        if self._homes.abroad(chat):
            checked = await self._checked_accounts(accounts, besides=actor)
            return (await self._homes.run(chat, actor, "invite", accounts=checked))["added"]
        newcomers = [account for account in await self._checked_accounts(accounts, besides=actor)
                     if await self._memberships.role(chat, account) is None]
        if newcomers and await self._is_secret(chat):
            size = await self._memberships.count(chat) + len(newcomers)
            if size > MAX_SECRET_MEMBERS:
                raise InvalidMessage(_too_many(size))
        for account in newcomers:
            await self._add(chat, actor, account, MEMBER)
        return newcomers

    async def remove(self, actor: str, *, chat: str, account: str) -> bool:
        """Remove a member (owner: anyone but itself; admin: members only) or leave (oneself)."""
        if self._homes.abroad(chat):
            await self._audience.require(chat, actor)
            return (await self._homes.run(chat, actor, "remove", account=account))["removed"]
        target_role = await self._memberships.role(chat, account)
        if account == actor:
            if target_role == OWNER:
                raise InvalidMessage("the owner cannot leave the group")
        else:
            actor_role = await self._audience.require(chat, actor, MANAGERS)
            if target_role == OWNER or (target_role == ADMIN and actor_role != OWNER):
                raise NotAParticipant("your role there does not allow it")
        removed = await self._memberships.remove(chat, account)
        if removed:
            await self._audience.member_changed(chat, actor, account, None)
        return removed

    async def set_admin(self, actor: str, *, chat: str, account: str, admin: bool) -> str:
        """Make a member an admin or a member again (the owner only)."""
        await self._audience.require(chat, actor, {OWNER})
        if self._homes.abroad(chat):
            return (await self._homes.run(chat, actor, "set_admin", account=account, admin=admin))["role"]
        current = await self._memberships.role(chat, account)
        if current is None or current == OWNER:
            raise MessageNotFound(f"{account} is not a member of the group")
        role = ADMIN if admin else MEMBER
        if role != current:
            await self._add(chat, actor, account, role)
        return role

    async def send(self, sender: str, *, chat: str, text: object, client_id: object,
                   reply_to: int | None = None) -> Message:
        cleaned = clean_text(text)
        if self._send_limit is not None:
            self._send_limit.take(sender)
        await self._audience.require(chat, sender)
        if await self._is_secret(chat):
            raise InvalidMessage("this is a secret group: its members' devices seal each message, and the node takes "
                                 "no text there", hint="svyaz secret send (the call secret.send)")
        if self._homes.abroad(chat):
            return await self._homes.message(chat, sender, "send", text=cleaned, client_id=client_id,
                                               reply_to=reply_to)
        if reply_to is not None and await self._writer.messages.get(chat, reply_to) is None:
            raise MessageNotFound(f"{chat} has no message {reply_to}")
        return await self._store(chat, sender, client_id, text=cleaned, reply_to=reply_to)

    async def send_sealed(self, sender: str, *, chat: str, sealed: object, franking: object,
                          client_id: object) -> Message:
        """A secret group's message, stored and relayed as the sender's device sealed it, once its
        envelope has the shape, and the escrow wrap, the region's policy asks for."""
        if chat_kind(chat) != GROUP:
            raise InvalidMessage("sealed messages go to a secret chat (sc/...) or a secret group (g/...)")
        await self._audience.require(chat, sender)
        if not await self._is_secret(chat):
            raise InvalidMessage("this group is not secret: its messages are text, sent with message.send",
                                 hint="create a secret group (group.create with secret: true) for sealed messages")
        envelope, commitment = clean_sealed(sealed, franking)
        try:
            wrap = sealed_group.parse(base64.b64decode(envelope)).escrow
        except MalformedEnvelope as err:
            raise InvalidMessage(f'"sealed" is not a group secret message envelope: {err}') from None
        abroad = self._homes.abroad(chat)
        if not abroad:  # abroad, the home region's policy decides on the escrow wrap
            self._secret_policy.check_escrow(wrap)
        if self._send_limit is not None:
            self._send_limit.take(sender)
        if abroad:
            return await self._homes.message(chat, sender, "send_sealed", sealed=envelope, franking=commitment,
                                               client_id=client_id)
        return await self._store(chat, sender, client_id, text="", sealed=envelope, franking=commitment)

    async def _store(self, chat: str, sender: str, client_id: object, **content) -> Message:
        draft = Message(chat=chat, seq=0, sender=sender, client_id=check_client_id(client_id), sent_at=self._clock(),
                        **content)
        return await self._writer.store(draft, then=lambda stored: self._audience.tell(
            events.MESSAGE_CREATED, chat, sender, seq=stored.seq, data=stored.as_wire(), at=stored.sent_at))

    async def edit(self, account: str, *, chat: str, seq: object, text: object) -> Message:
        """The author's new text, seen by every member."""
        await self._audience.require(chat, account)  # before saying anything of the group
        if await self._is_secret(chat):
            raise InvalidMessage("secret messages cannot be edited: the node cannot read or change them")
        if self._homes.abroad(chat):
            return await self._homes.message(chat, account, "edit", seq=seq, text=clean_text(text))
        return await self._revisions.edit(account, chat=chat, seq=seq, text=text, audience=chat, rules=GROUP_MESSAGES)

    async def delete(self, account: str, *, chat: str, seq: object) -> Message:
        """Gone for every member; by its author, the owner or an admin."""
        if self._homes.abroad(chat):
            await self._audience.require(chat, account)
            return await self._homes.message(chat, account, "delete", seq=seq)
        return await self._revisions.delete(account, chat=chat, seq=seq, audience=chat, rules=GROUP_MESSAGES)

    async def history(self, account: str, *, chat: str, before: int | None = None, after: int | None = None,
                      limit: int = 50) -> list[Message]:
        await self._audience.require(chat, account)
        seqs = page_range(await self._writer.messages.head(chat), before=before, after=after, limit=limit)
        return [m for m in await self._writer.messages.page(chat, seqs) if m.visible_to(account)]

    async def mark(self, account: str, *, chat: str, seq: int, kind: str) -> int:
        await self._audience.require(chat, account)
        if not 0 < seq <= await self._writer.messages.head(chat):
            raise MessageNotFound(f"{chat} has no message {seq}")
        await self._writer.messages.advance_cursor(chat, account, kind, seq)
        if kind == "read":  # the reader's own devices; a group does not tell everyone who read what
            await self._audience.tell(events.RECEIPT_READ, chat, account, seq=seq, audience="")
        return seq

    async def members(self, account: str, *, chat: str, limit: int = 200) -> list[tuple[str, str]]:
        await self._audience.require(chat, account)
        return await self._memberships.members(chat, limit=max(1, min(int(limit), 1000)))

    async def _is_secret(self, chat: str) -> bool:
        known = self._secrecy.get(chat)
        if known is None:
            info = await self._memberships.info(chat)
            if info is None:
                return False  # no such group: membership checks answer for it
            known = self._secrecy[chat] = info.secret
            if len(self._secrecy) > _SECRECY_CACHE:
                del self._secrecy[next(iter(self._secrecy))]
        return known

    async def _add(self, chat: str, actor: str, account: str, role: str) -> None:
        await self._memberships.set_role(chat, account, role)
        await self._audience.member_changed(chat, actor, account, role)

    async def _checked_accounts(self, accounts: Sequence[object], *, besides: str) -> list[str]:
        if len(accounts) > MAX_INVITES:
            raise InvalidMessage(f"at most {MAX_INVITES} accounts at a time")
        checked = []
        for raw in accounts:
            try:
                account = str(parse_account_id(raw))
            except MalformedAccountId as err:
                raise InvalidMessage(str(err), hint=err.hint) from None
            region = account.rsplit(":", 1)[1]
            if not self._homes.may_join(account):
                raise Unreachable(f"{account} lives in region {region}, which this node does not federate with")
            # The node serving the actor checks every account, asking abroad if need be; a home
            # running an invitation from abroad checks again only its own residents (asking abroad
            # from inside the federation consumer would wait on that very consumer).
            if (region == self._region or self._homes.may_ask_abroad(besides)) and not await self._directory.exists(account):
                raise UnknownRecipient(f"there is no account {account}")
            if account != besides and account not in checked:
                checked.append(account)
        return checked


def _too_many(size: int) -> str:
    return (f"a secret group has at most {MAX_SECRET_MEMBERS} members ({size} asked): each member hands its "
            "key to every other one")
