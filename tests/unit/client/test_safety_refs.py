"""The client's side of blocks, reports and presence: message references and what is shown."""

from __future__ import annotations

import pytest

from svyaz.client.messaging import Messenger, parse_message_ref
from svyaz.client.safety_cli import describe_presence, message_refs
from svyaz.errors import SvyazError
from tests.unit.client.test_shared_chats import Recording


@pytest.mark.parametrize("value, ref", [
    ("@bob:ru:3", ("@bob:ru", 3)),
    ("dm/@alice:ru/@bob:ru:12", ("dm/@alice:ru/@bob:ru", 12)),
    ("g/ru/0123456789abcdef:1", ("g/ru/0123456789abcdef", 1)),
    ("c/ru/0123456789abcdef/p/2:5", ("c/ru/0123456789abcdef/p/2", 5)),
])
def test_a_message_reference_is_a_chat_and_the_seq_after_its_last_colon(value, ref):
    assert parse_message_ref(value) == ref


@pytest.mark.parametrize("value", ["@bob:ru", "@bob:ru:", ":3", "@bob:ru:0", "@bob:ru:-1", "@bob:ru:x",
                                   "@bob:ru:03", "@bob:ru: 3", "@bob:ru:²", "3"])
def test_a_malformed_reference_is_refused_with_an_example(value):
    with pytest.raises(SvyazError, match="is not a message reference CHAT:SEQ") as refused:
        parse_message_ref(value)
    assert "@bob:ru:3" in refused.value.hint


def test_references_name_chats_by_id_or_peer_and_are_at_most_twenty():
    assert message_refs("@alice:ru", ["@bob:ru:3", "g/ru/0123456789abcdef:2"]) == [
        ("dm/@alice:ru/@bob:ru", 3), ("g/ru/0123456789abcdef", 2)]
    with pytest.raises(SvyazError, match="neither a chat id nor an account"):
        message_refs("@alice:ru", ["bob:3"])
    with pytest.raises(SvyazError, match="at most 20"):
        message_refs("@alice:ru", ["@bob:ru:1"] * 21)


async def test_a_report_sends_its_references_as_chat_and_seq():
    client = Recording({"report": "r1"}, {"report": "r2"})
    messenger = Messenger(client, account="@alice:ru")
    assert await messenger.report("@bob:ru", "spam", messages=[("dm/@alice:ru/@bob:ru", 3)]) == "r1"
    await messenger.report("@bob:ru", "abuse", note="rude")

    assert client.calls == [
        ("report.create", {"account": "@bob:ru", "reason": "spam", "messages": [{"chat": "dm/@alice:ru/@bob:ru",
                                                                                  "seq": 3}]}),
        ("report.create", {"account": "@bob:ru", "reason": "abuse", "note": "rude"}),
    ]


def test_presence_reads_as_a_sentence():
    assert describe_presence({"account": "@a:ru", "visible": False}) == "@a:ru: hidden from you"
    assert describe_presence({"account": "@a:ru", "visible": True, "online": True, "last_seen": None}) == \
        "@a:ru: online"
    assert describe_presence({"account": "@a:ru", "visible": True, "online": False, "last_seen": None}) == \
        "@a:ru: not seen online yet"
    assert describe_presence({"account": "@a:ru", "visible": True, "online": False,
                              "last_seen": 1795839000}).startswith("@a:ru: last seen 20")
