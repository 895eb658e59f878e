"""Editing and deleting in groups, channel posts and comment threads (svyaz/messaging/revisions.py)."""

from __future__ import annotations

import pytest

from svyaz.messaging import events
from svyaz.messaging.errors import InvalidMessage, MessageNotFound, NotAParticipant, NotYourMessage
from svyaz.messaging.model import Message
from svyaz.messaging.revisions import CHANNEL_POSTS, COMMENTS, GROUP_MESSAGES, Revisions
from svyaz.messaging.shared import Audience
from svyaz.messaging.writer import SequencedWriter

from .fakes import MemoryMessageStore, RecordingPublisher, TickingClock

GROUP = "g/ru/00000000000000aa"
CHANNEL = "c/ru/00000000000000bb"
THREAD = f"{CHANNEL}/p/1"
OWNER, ADMIN, MEMBER, READER, OUTSIDER = "@owner:ru", "@admin:ru", "@member:ru", "@reader:ru", "@outsider:ru"


class Roles:
    """Memberships as far as the audience checks need them."""

    def __init__(self, roles: dict[tuple[str, str], str]) -> None:
        self.roles = roles

    async def role(self, chat: str, account: str) -> str | None:
        return self.roles.get((chat, account))


@pytest.fixture
def world():
    messages = MemoryMessageStore()
    publisher = RecordingPublisher()
    roles = Roles({(GROUP, OWNER): "owner", (GROUP, ADMIN): "admin", (GROUP, MEMBER): "member",
                   (CHANNEL, OWNER): "owner", (CHANNEL, ADMIN): "admin", (CHANNEL, READER): "subscriber"})
    revisions = Revisions(SequencedWriter(messages), Audience(roles, publisher, TickingClock()), TickingClock())
    for chat, sender in ((GROUP, MEMBER), (GROUP, ADMIN), (CHANNEL, ADMIN), (THREAD, READER)):
        seq = len(messages.stored(chat)) + 1
        messages.plant(Message(chat=chat, seq=seq, sender=sender, client_id=f"c{chat[-2:]}{seq}", text="original",
                               sent_at=1.0, links=("https://old.example",) if chat == CHANNEL else ()))
    return revisions, messages, publisher, roles


async def test_an_author_edits_a_group_message_and_every_member_is_told(world):
    revisions, messages, publisher, _ = world
    edited = await revisions.edit(MEMBER, chat=GROUP, seq=1, text=" corrected ", audience=GROUP, rules=GROUP_MESSAGES)

    assert (edited.text, edited.edited_at is not None) == ("corrected", True)
    assert (await messages.get(GROUP, 1)).text == "corrected"
    [event] = publisher.events
    assert (event.kind, event.audience, event.seq, event.data["text"]) == (events.MESSAGE_EDITED, GROUP, 1, "corrected")


async def test_nobody_edits_someone_elses_message_not_even_the_owner(world):
    revisions, messages, publisher, _ = world
    with pytest.raises(NotYourMessage):
        await revisions.edit(OWNER, chat=GROUP, seq=1, text="mine now", audience=GROUP, rules=GROUP_MESSAGES)
    assert (await messages.get(GROUP, 1)).text == "original" and publisher.events == []


async def test_a_group_message_is_deleted_by_its_author_or_a_manager_never_by_another_member(world):
    revisions, messages, publisher, _ = world
    with pytest.raises(NotYourMessage):
        await revisions.delete(MEMBER, chat=GROUP, seq=2, audience=GROUP, rules=GROUP_MESSAGES)
    assert not (await messages.get(GROUP, 2)).deleted

    await revisions.delete(ADMIN, chat=GROUP, seq=1, audience=GROUP, rules=GROUP_MESSAGES)   # moderating
    await revisions.delete(ADMIN, chat=GROUP, seq=2, audience=GROUP, rules=GROUP_MESSAGES)   # its own

    placeholder = await messages.get(GROUP, 1)
    assert (placeholder.deleted, placeholder.text, placeholder.seq) == (True, "", 1)
    assert publisher.kinds() == [events.MESSAGE_DELETED, events.MESSAGE_DELETED]
    with pytest.raises(MessageNotFound):   # twice is not a second event
        await revisions.delete(ADMIN, chat=GROUP, seq=1, audience=GROUP, rules=GROUP_MESSAGES)
    assert len(publisher.events) == 2


async def test_an_outsider_learns_nothing_about_a_groups_messages(world):
    revisions, *_ = world
    for seq in (1, 99):   # an existing message and a missing one answer alike
        with pytest.raises(NotAParticipant):
            await revisions.delete(OUTSIDER, chat=GROUP, seq=seq, audience=GROUP, rules=GROUP_MESSAGES)
        with pytest.raises(NotAParticipant):
            await revisions.edit(OUTSIDER, chat=GROUP, seq=seq, text="x", audience=GROUP, rules=GROUP_MESSAGES)


async def test_a_member_who_left_can_no_longer_change_what_it_wrote(world):
    revisions, messages, _, roles = world
    del roles.roles[(GROUP, MEMBER)]
    with pytest.raises(NotAParticipant):
        await revisions.edit(MEMBER, chat=GROUP, seq=1, text="after leaving", audience=GROUP, rules=GROUP_MESSAGES)
    assert (await messages.get(GROUP, 1)).text == "original"


async def test_an_edited_post_gets_the_links_of_its_new_text(world):
    revisions, *_ = world
    edited = await revisions.edit(ADMIN, chat=CHANNEL, seq=1, text="now at https://new.example/page",
                                  audience=CHANNEL, rules=CHANNEL_POSTS)
    assert edited.links == ("https://new.example/page",)


async def test_an_author_demoted_from_admin_can_no_longer_edit_its_post(world):
    revisions, _, _, roles = world
    roles.roles[(CHANNEL, ADMIN)] = "subscriber"
    with pytest.raises(NotAParticipant):
        await revisions.edit(ADMIN, chat=CHANNEL, seq=1, text="still mine?", audience=CHANNEL, rules=CHANNEL_POSTS)


async def test_comments_are_edited_by_their_author_and_removed_by_the_channels_managers(world):
    revisions, messages, publisher, _ = world
    edited = await revisions.edit(READER, chat=THREAD, seq=1, text="second thoughts", audience=CHANNEL, rules=COMMENTS)
    with pytest.raises(NotYourMessage):
        await revisions.delete(OUTSIDER, chat=THREAD, seq=1, audience=CHANNEL, rules=COMMENTS)
    await revisions.delete(OWNER, chat=THREAD, seq=1, audience=CHANNEL, rules=COMMENTS)

    assert edited.text == "second thoughts" and (await messages.get(THREAD, 1)).deleted
    assert [(e.kind, e.chat, e.audience) for e in publisher.events] == [
        (events.MESSAGE_EDITED, THREAD, CHANNEL), (events.MESSAGE_DELETED, THREAD, CHANNEL)]


@pytest.mark.parametrize("seq", [0, -1, True, "1", None])
async def test_a_bad_seq_is_refused(world, seq):
    revisions, *_ = world
    with pytest.raises(InvalidMessage):
        await revisions.edit(MEMBER, chat=GROUP, seq=seq, text="x", audience=GROUP, rules=GROUP_MESSAGES)


async def test_bad_text_is_refused_and_nothing_changes(world):
    revisions, messages, publisher, _ = world
    with pytest.raises(InvalidMessage):
        await revisions.edit(MEMBER, chat=GROUP, seq=1, text="x" * 5000, audience=GROUP, rules=GROUP_MESSAGES)
    assert (await messages.get(GROUP, 1)).text == "original" and publisher.events == []
