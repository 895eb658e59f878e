"""The one registry of actions: every name the guard can be asked about, what it means, and whether
an anonymous caller may attempt it.

A handler declares the action it implements by name; the guard denies any name not listed here,
and the tests enumerate this catalogue against the policy. Adding an action means: a line here, the
roles that may perform it in policies/policy.csv, and its row in tests/unit/rbac/test_policy.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

_NAME = re.compile(r"^[a-z0-9]+(\.[a-z0-9_]+)+$")


@dataclass(frozen=True)
class Action:
    """name:        dotted, lower case, e.g. `role.grant`
    description: one line for operators and the docs
    anonymous:   an unauthenticated caller may attempt it (register, sign in, refresh)
    privileged:  an allowed attempt is written to the audit log before the action runs, and the
                 action fails closed if the audit log cannot be written
    """

    name: str
    description: str
    anonymous: bool = False
    privileged: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"action name {self.name!r} is not dotted lower case (e.g. `role.grant`)")
        if not self.description or "\n" in self.description:
            raise ValueError(f"action {self.name!r} needs a one-line description")
        if self.anonymous and self.privileged:
            raise ValueError(f"action {self.name!r} cannot be both anonymous and privileged")


class Catalogue:
    """A frozen, ordered set of actions, looked up by name."""

    def __init__(self, actions: tuple[Action, ...]) -> None:
        by_name: dict[str, Action] = {}
        for action in actions:
            if action.name in by_name:
                raise ValueError(f"action {action.name!r} is listed twice")
            by_name[action.name] = action
        self._by_name: Mapping[str, Action] = MappingProxyType(by_name)

    def get(self, name: str) -> Action | None:
        return self._by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Action]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def anonymous_names(self) -> frozenset[str]:
        return frozenset(action.name for action in self if action.anonymous)


CATALOGUE = Catalogue((
    # Sign-up and sign-in: anyone may attempt them; credentials decide the outcome, not roles.
    Action("account.register", "create an account with a password", anonymous=True),
    Action("auth.login", "sign in with a password (and a TOTP code when 2FA is on)", anonymous=True),
    Action("auth.refresh", "exchange a refresh token for a new token pair", anonymous=True),
    # The caller's own account. Handlers act on the caller's own data only.
    Action("account.profile.read", "read one's own profile"),
    Action("account.profile.update", "change one's own profile"),
    Action("account.password.change", "change one's own password (ends the other sessions)"),
    Action("2fa.enable", "start TOTP enrolment for one's own account"),
    Action("2fa.confirm", "confirm TOTP enrolment with a first code"),
    Action("2fa.disable", "turn TOTP off for one's own account"),
    Action("sessions.list", "list one's own sessions"),
    Action("sessions.revoke", "sign one of one's own sessions out"),
    Action("account.data.export", "download everything the node holds about one's own account (152-FZ art. 14)"),
    # Messaging in chats the caller takes part in (the use case checks participation).
    Action("message.send", "send a message (or a reply) to another account"),
    Action("message.forward", "forward a message one can read to another account"),
    Action("message.edit", "edit one's own message"),
    Action("message.delete", "delete a message for oneself, or one's own for everyone"),
    Action("message.history", "read a page of a chat one takes part in"),
    Action("message.delivered", "acknowledge receipt of a chat's messages up to a position"),
    Action("message.read", "mark a chat read up to a position"),
    Action("chat.typing", "tell a chat's other participants one is typing"),
    Action("chat.list", "list one's chats with previews and unread counts"),
    Action("group.create", "create a group with oneself as owner"),
    Action("group.invite", "add accounts to a group one manages"),
    Action("group.remove", "remove a member from a group one manages, or leave a group"),
    Action("group.admin", "make a group member an admin or a member again (owner)"),
    Action("group.members", "list the members of a group one belongs to"),
    Action("channel.create", "create a channel with oneself as owner"),
    Action("channel.subscribe", "subscribe to a channel"),
    Action("channel.unsubscribe", "unsubscribe from a channel"),
    Action("channel.post", "post in a channel one manages"),
    Action("channel.comment", "comment on a channel post"),
    Action("block.add", "block an account: it cannot message one nor see one's presence"),
    Action("block.remove", "unblock an account"),
    Action("block.list", "list the accounts one has blocked"),
    Action("report.create", "report an account (spam, fraud, abuse) with messages one can see"),
    Action("presence.get", "see whether an account is online, as its privacy setting allows"),
    Action("directory.lookup", "find out whether an account (here or abroad) exists, and its display name"),
    Action("keys.publish", "publish one's device's secret-chat prekeys (public keys only)"),
    Action("keys.count", "count one's one-time prekeys the node still holds"),
    Action("keys.claim", "take an account's prekey bundle to start a secret chat with it"),
    Action("secret.send", "relay a sealed (end-to-end encrypted) message into a secret chat one is in"),
    Action("secret.report", "report a secret message by revealing it and its franking key"),
    Action("secret.policy", "read the region's secret-chat policy (strict, or escrow and its public key)"),
    # Acting on other people's accounts, data or rights: always audited, fail closed.
    Action("sessions.revoke.any", "sign out any session of any account (incident response)", privileged=True),
    Action("role.grant", "grant a role to an account in a region", privileged=True),
    Action("role.revoke", "revoke a role from an account in a region", privileged=True),
    Action("role.list", "list who holds which role in a region", privileged=True),
    Action("audit.read", "read the audit log", privileged=True),
    Action("audit.verify", "verify the audit log's hash chain and signed checkpoints", privileged=True),
    Action("lawful.request.submit", "submit a lawful-access request with its legal basis", privileged=True),
    Action("lawful.request.review", "take a submitted lawful-access request into review", privileged=True),
    Action("lawful.request.approve", "approve a lawful-access request (one of two officers)", privileged=True),
    Action("lawful.request.reject", "reject a lawful-access request with a reason", privileged=True),
    Action("lawful.request.list", "list lawful-access requests (an authority its own, an officer the region's)",
           privileged=True),
    Action("lawful.request.show", "read a lawful-access request: its legal basis, scope and steps", privileged=True),
    Action("lawful.request.close", "close a delivered lawful-access request", privileged=True),
    Action("lawful.request.export", "produce the signed export of an approved lawful-access request", privileged=True),
    Action("lawful.request.download", "download the export of one's own lawful-access request", privileged=True),
    Action("moderation.review", "read reported content and decide on the report", privileged=True),
    # Federation: a peer node delivering signed events (volume too high to audit each one here;
    # the inbound consumer records rejected events).
    Action("federation.event.deliver", "deliver a signed federation event from a peer node"),
))
