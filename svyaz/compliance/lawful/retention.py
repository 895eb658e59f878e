"""Retention and legal hold (issue 6; docs/compliance.md, "Retention and legal hold"): how long a
region keeps messages, and which stored messages a purge blanks, deletes or must not touch.

Pure: no I/O. `parse_retention` reads the parsed `policies/retention.toml`; `purge_chat` walks one
chat through a small port (`ChatMessages`) that the store adapter (`purge`) implements and the unit
tests fake.

The rule, for one message sent at `sent_at`, with `now` the time of the purge:

    sent_at <  now - metadata_days   deleted whole (DELETE)
    sent_at <  now - content_days    content blanked: text, links, media, sealed envelope and its
                                     franking commitment; kept as metadata with a `purged` mark (BLANK)
    otherwise                        kept as it is (KEEP); exactly at a cut-off is still kept

Legal hold wins over retention: a chat in which a subject of an open lawful-access request takes
part (a private or secret chat with the subject; a group or channel, or a channel's comment thread,
of which the subject is a member) is skipped whole, by every purge, for as long as the request is open.

A chat is walked from its oldest remaining message up, and the walk stops at the first message
inside retention: messages of one chat are numbered in the order they were stored, so what follows
is newer. Where each walk stopped is kept per chat (`Floors`), so the next purge starts there and
never reads a purged or deleted message twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from svyaz.errors import SvyazError
from svyaz.messaging.errors import InvalidMessage
from svyaz.messaging.ids import CHANNEL, COMMENTS, GROUP, chat_kind, is_private, private_participants, thread_of

DAY_S = 86_400
MAX_DAYS = 36_500   # a hundred years: anything longer is a typo, not a policy
FIELDS = ("content_days", "content_basis", "metadata_days", "metadata_basis")

KEEP, BLANK, DELETE = "keep", "blank", "delete"


class RetentionPolicyError(SvyazError):
    """policies/retention.toml does not say what the purge needs; the message names the key."""

    code = "retention_policy_invalid"


@dataclass(frozen=True)
class Cutoffs:
    """A message sent before `content` loses its content; one sent before `metadata` is deleted."""

    content: float
    metadata: float


@dataclass(frozen=True)
class RetentionPolicy:
    region: str
    content_days: int
    metadata_days: int
    content_basis: str
    metadata_basis: str

    def cutoffs(self, now: float) -> Cutoffs:
        return Cutoffs(content=now - self.content_days * DAY_S, metadata=now - self.metadata_days * DAY_S)


def parse_retention(table: Mapping[str, Any], region: str, *, source: str = "retention.toml") -> RetentionPolicy:
    """The policy of `region` from the parsed TOML; RetentionPolicyError naming the key otherwise.

    A region without a table is an error, not "keep forever" or "purge everything": the purge does
    not run on a guess."""
    section = table.get(region)
    if section is None:
        raise RetentionPolicyError(f"{source}: no [{region}] table",
                                   hint=f"add [{region}] with {', '.join(FIELDS)}")
    if not isinstance(section, Mapping):
        raise RetentionPolicyError(f"{source}: {region} must be a table [{region}], not {type(section).__name__}")
    unknown = sorted(set(section) - set(FIELDS))
    if unknown:
        raise RetentionPolicyError(f"{source}: {region}.{unknown[0]}: unknown key",
                                   hint="known keys: " + ", ".join(FIELDS))
    content_days = _days(section, region, "content_days", source)
    metadata_days = _days(section, region, "metadata_days", source)
    if metadata_days < content_days:
        raise RetentionPolicyError(
            f"{source}: {region}.metadata_days ({metadata_days}) is shorter than {region}.content_days "
            f"({content_days}): a message would be deleted before its content retention ends",
            hint="metadata_days must be at least content_days")
    return RetentionPolicy(region=region, content_days=content_days, metadata_days=metadata_days,
                           content_basis=_basis(section, region, "content_basis", source),
                           metadata_basis=_basis(section, region, "metadata_basis", source))


def _days(section: Mapping[str, Any], region: str, key: str, source: str) -> int:
    if key not in section:
        raise RetentionPolicyError(f"{source}: {region}.{key} is missing",
                                   hint=f"set {key} = <days> with its legal citation in the *_basis key")
    value = section[key]
    # bool is an int subclass: `content_days = true` must not pass as 1.
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DAYS:
        raise RetentionPolicyError(f"{source}: {region}.{key}: expected a whole number of days 1-{MAX_DAYS}, "
                                   f"got {value!r}")
    return value


def _basis(section: Mapping[str, Any], region: str, key: str, source: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RetentionPolicyError(f"{source}: {region}.{key}: expected the legal citation as a non-empty string, "
                                   f"got {value!r}", hint="name the law, article and point the figure comes from")
    return value.strip()


def verdict(sent_at: float, cutoffs: Cutoffs) -> str:
    """DELETE, BLANK or KEEP for a message sent at `sent_at` (see the module's table)."""
    if sent_at < cutoffs.metadata:
        return DELETE
    if sent_at < cutoffs.content:
        return BLANK
    return KEEP


# What a message keeps of its content once blanked (the store adds `purged`, the time of the purge).
# The franking commitment goes with the sealed envelope it commits to: without the envelope it
# proves nothing, and it was derived from the content.
BLANKED_FIELDS: dict[str, Any] = {"text": "", "links": [], "media": None, "sealed": None, "franking": None}


@dataclass(frozen=True)
class LegalHold:
    """The subjects of a region's open requests, and the groups and channels they are members of
    (the adapter finds those; a private chat names its participants in its id)."""

    subjects: frozenset[str] = frozenset()
    shared_chats: frozenset[str] = frozenset()

    def holds(self, chat: str) -> bool:
        """Whether no purge may touch `chat`. A chat id that does not parse is held: the purge
        does not delete what it cannot tell apart."""
        if not self.subjects:
            return False
        try:
            if is_private(chat):
                return bool(self.subjects.intersection(private_participants(chat)))
            kind = chat_kind(chat)
        except InvalidMessage:
            return True
        if kind in (GROUP, CHANNEL):
            return chat in self.shared_chats
        assert kind == COMMENTS
        channel, _post = thread_of(chat)
        return chat in self.shared_chats or channel in self.shared_chats


@dataclass(frozen=True)
class Floors:
    """Where a chat's last purge stopped: every seq below `metadata` is deleted, every seq below
    `content` holds no content."""

    metadata: int = 1
    content: int = 1


@dataclass(frozen=True)
class StoredMessage:
    """What the purge reads of a stored message: never its content."""

    sent_at: float
    purged: bool


class ChatMessages(Protocol):
    """One chat's messages as the purge sees them (blocking; the adapter runs in a worker thread)."""

    def read(self, seq: int) -> StoredMessage | None:
        """The message at `seq`, or None if there is none (deleted, or never stored)."""
        ...

    def delete(self, seq: int) -> None: ...

    def blank(self, seq: int) -> None:
        """Blank its content (BLANKED_FIELDS) and mark it purged."""
        ...


@dataclass(frozen=True)
class ChatPurge:
    floors: Floors
    deleted: int = 0
    blanked: int = 0


def purge_chat(messages: ChatMessages, last_seq: int, floors: Floors, cutoffs: Cutoffs, *,
               dry_run: bool = False) -> ChatPurge:
    """Delete, then blank, the messages of one chat past their retention, oldest first, stopping at
    the first message inside retention. `last_seq`: the chat's last seq as far as the store knows
    (a later one is newer still). With `dry_run`, counts what would be done and changes nothing; the
    floors returned are then the ones given."""
    deleted = blanked = 0
    seq = floors.metadata
    while seq <= last_seq:
        stored = messages.read(seq)
        if stored is not None:
            if verdict(stored.sent_at, cutoffs) != DELETE:
                break
            if not dry_run:
                messages.delete(seq)
            deleted += 1
        seq += 1
    metadata_floor = seq
    seq = max(floors.content, metadata_floor)
    while seq <= last_seq:
        stored = messages.read(seq)
        if stored is not None:
            if verdict(stored.sent_at, cutoffs) == KEEP:
                break
            # In a dry run the messages the first walk would delete are still there: it stopped
            # at the first one to keep, so what it reads here is past content retention only.
            if not stored.purged:
                if not dry_run:
                    messages.blank(seq)
                blanked += 1
        seq += 1
    if dry_run:
        return ChatPurge(floors=floors, deleted=deleted, blanked=blanked)
    return ChatPurge(floors=Floors(metadata=metadata_floor, content=seq), deleted=deleted, blanked=blanked)
