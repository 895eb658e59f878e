"""A group's changes between nodes: what the home writes is what a member's node reads, and what
an origin may not send is refused before it changes anything."""

from __future__ import annotations

import pytest

from svyaz.federation.errors import Malformed, NotPermitted
from svyaz.messaging import events
from svyaz.messaging.events import Event
from svyaz.messaging.model import ChatInfo, Message
from svyaz.node.federation import wire_shared

GROUP = "g/ru/0123456789abcdef"
INFO = ChatInfo(chat=GROUP, kind="group", title="Евразия", owner="@alice:ru", created_at=1_700_000_000.5)
MESSAGE = Message(chat=GROUP, seq=7, sender="@bob:kz", client_id="client-0001", text="сәлем", sent_at=1_700_000_001.25,
                  reply_to=3, edited_at=1_700_000_002.0)


def message_event(kind: str = events.MESSAGE_CREATED, message: Message = MESSAGE) -> Event:
    return Event(kind=kind, chat=GROUP, actor=message.sender, recipients=(message.sender,), audience=GROUP,
                 seq=message.seq, at=message.sent_at, data=message.as_wire())


def test_a_message_reads_back_as_the_home_stored_it():
    payload = wire_shared.from_event(message_event(), INFO)
    actor, read = wire_shared.read_message(origin="ru", stream=GROUP, kind=events.MESSAGE_CREATED, payload=payload)
    assert (actor, read) == ("@bob:kz", MESSAGE)


def test_a_member_change_carries_the_groups_record_and_for_a_first_copy_its_members():
    event = Event(kind=events.MEMBER_ADDED, chat=GROUP, actor="@alice:ru", recipients=("@bob:kz", "@alice:ru"),
                  audience=GROUP, data={"account": "@bob:kz", "role": "member"})
    members = (("@alice:ru", "owner"), ("@bob:kz", "member"))
    payload = wire_shared.from_event(event, INFO, members=members)
    change = wire_shared.read_member_change(origin="ru", stream=GROUP, kind=events.MEMBER_ADDED, payload=payload)
    assert (change.info, change.account, change.role, change.members) == (INFO, "@bob:kz", "member", members)


def test_only_the_home_may_send_a_groups_changes():
    payload = wire_shared.from_event(message_event(), INFO)
    with pytest.raises(NotPermitted, match="not the home"):
        wire_shared.read_message(origin="kz", stream=GROUP, kind=events.MESSAGE_CREATED, payload=payload)


@pytest.mark.parametrize("change", [
    {"seq": 0}, {"seq": "7"}, {"sender": "bob"}, {"client_id": "x"}, {"text": 5}, {"sent_at_ms": -1},
    {"deleted": "yes"}, {"links": "http://x"}, {"extra": 1},
])
def test_a_malformed_message_is_refused(change):
    payload = wire_shared.from_event(message_event(), INFO)
    payload["message"] = {**payload["message"], **change}
    with pytest.raises(Malformed):
        wire_shared.read_message(origin="ru", stream=GROUP, kind=events.MESSAGE_CREATED, payload=payload)


@pytest.mark.parametrize(("stream", "origin", "actor", "action", "refusal"), [
    (GROUP, "kz", "@bob:kz", "send", None),
    (GROUP, "kz", "@dana:by", "send", NotPermitted),          # kz acts for a Belarusian
    ("g/kz/0123456789abcdef", "kz", "@bob:kz", "send", NotPermitted),  # not homed here (ru)
    ("dm/@alice:ru/@bob:kz", "kz", "@bob:kz", "send", Malformed),
    (GROUP, "kz", "@bob:kz", "drop_table", Malformed),
])
def test_a_command_reaches_the_home_only_from_the_actors_own_node(stream, origin, actor, action, refusal):
    payload = wire_shared.command(command_id="0" * 32, actor=actor, action=action, args={"text": "hi"})
    if refusal is None:
        chat, command = wire_shared.read_command(origin=origin, local_region="ru", stream=stream, payload=payload)
        assert (chat, command.actor, command.action, dict(command.args)) == (GROUP, actor, action, {"text": "hi"})
    else:
        with pytest.raises(refusal):
            wire_shared.read_command(origin=origin, local_region="ru", stream=stream, payload=payload)


def test_a_reply_reads_back_and_only_from_the_home():
    ok = wire_shared.reply("a" * 32, result={"added": ["@dana:by"]})
    refused = wire_shared.reply("b" * 32, code="not_a_participant", message="your role there does not allow it")
    assert wire_shared.read_reply(origin="ru", stream=GROUP, payload=ok) == ("a" * 32, {"ok": True, "result": {
        "added": ["@dana:by"]}})
    assert wire_shared.read_reply(origin="ru", stream=GROUP, payload=refused)[1]["code"] == "not_a_participant"
    with pytest.raises(NotPermitted):
        wire_shared.read_reply(origin="by", stream=GROUP, payload=ok)


def test_a_refusal_from_the_home_keeps_its_code_only_if_this_version_knows_it():
    from svyaz.messaging.errors import RefusedAtHome

    assert RefusedAtHome("not_your_message", "only its author can edit a message").code == "not_your_message"
    assert RefusedAtHome("<script>", "whatever a peer says").code == "refused_at_home"
