"""Message events on the wire (svyaz/messaging/events.py): a record decodes whole or not at all."""

from __future__ import annotations

import json

import pytest

from svyaz.messaging import events
from svyaz.messaging.errors import MalformedEvent
from svyaz.messaging.events import MAX_EVENT_BYTES, Event, decode

CHAT = "dm/@alice:ru/@bob:ru"


def created(**changes) -> Event:
    fields = dict(kind=events.MESSAGE_CREATED, chat=CHAT, actor="@alice:ru", recipients=("@bob:ru", "@alice:ru"),
                  seq=3, at=1_700_000_000.5, data={"chat": CHAT, "seq": 3, "text": "привет, Bob"}, id="e1")
    return Event(**{**fields, **changes})


def raw(**changes) -> bytes:
    """A valid encoded event with some fields replaced; a value of `...` removes the field."""
    doc = json.loads(created().encode())
    for name, value in changes.items():
        if value is ...:
            del doc[name]
        else:
            doc[name] = value
    return json.dumps(doc).encode()


@pytest.mark.parametrize("event", [
    created(),
    created(kind=events.TYPING, recipients=("@bob:ru",), seq=0, data={}),
    created(kind=events.RECEIPT_READ, seq=12, at=5, data={}),
    Event(kind=events.MESSAGE_DELETED, chat=CHAT, actor="@bob:ru", recipients=("@alice:ru",)),
    created(chat="g/ru/0123456789abcdef", recipients=("@alice:ru",), audience="g/ru/0123456789abcdef"),
], ids=lambda event: f"{event.kind}{'-audience' if event.audience else ''}")
def test_an_event_survives_encoding(event):
    assert decode(event.encode()) == event


def test_events_get_distinct_ids():
    assert Event(kind=events.TYPING, chat=CHAT, actor="@a:ru", recipients=()).id != \
        Event(kind=events.TYPING, chat=CHAT, actor="@a:ru", recipients=()).id


def test_an_event_is_keyed_by_its_chat():
    assert created().key() == CHAT.encode()


def test_a_client_sees_the_event_without_its_recipients():
    wire = created().as_wire()
    assert "recipients" not in wire
    assert wire["message"] == created().data
    assert "message" not in created(data={}).as_wire()


def test_an_event_of_exactly_the_size_limit_is_accepted():
    base = len(created(data={"text": ""}).encode())
    event = created(data={"text": "x" * (MAX_EVENT_BYTES - base)})
    assert len(event.encode()) == MAX_EVENT_BYTES
    assert decode(event.encode()) == event


def test_an_oversized_event_is_refused_before_parsing():
    with pytest.raises(MalformedEvent, match="bytes"):
        decode(b" " * (MAX_EVENT_BYTES + 1))


@pytest.mark.parametrize("record", [b"", b"not json", b"{", b"\xc3\x28", b"{'kind': 'typing'}"])
def test_a_record_that_is_not_json_is_refused(record):
    with pytest.raises(MalformedEvent):
        decode(record)


@pytest.mark.parametrize("record", [b"[]", b"42", b'"typing"', b"null", b"true"])
def test_a_record_that_is_not_an_object_is_refused(record):
    with pytest.raises(MalformedEvent, match="object"):
        decode(record)


@pytest.mark.parametrize("field", ["id", "kind", "chat", "actor", "recipients", "seq", "at", "data"])
def test_an_event_missing_a_field_is_refused(field):
    with pytest.raises(MalformedEvent):
        decode(raw(**{field: ...}))


@pytest.mark.parametrize("kind", ["message.exploded", "", "MESSAGE.CREATED", 7, None])
def test_an_unknown_kind_is_refused(kind):
    with pytest.raises(MalformedEvent):
        decode(raw(kind=kind))


@pytest.mark.parametrize("kind", [[], {}, ["typing"]], ids=["list", "object", "list-of-kind"])
def test_an_unhashable_kind_is_refused_as_malformed(kind):
    with pytest.raises(MalformedEvent):
        decode(raw(kind=kind))


@pytest.mark.parametrize("seq", [-1, True, False, 1.5, 3.0, "3", None, [3]])
def test_a_seq_that_is_not_a_non_negative_integer_is_refused(seq):
    with pytest.raises(MalformedEvent):
        decode(raw(seq=seq))


@pytest.mark.parametrize("changes", [
    {"chat": ""}, {"actor": ""}, {"id": ""}, {"recipients": [""]}, {"recipients": ["@bob:ru", ""]},
    {"chat": 5}, {"actor": None}, {"id": 17}, {"recipients": [1]}, {"recipients": None}, {"recipients": 3},
], ids=repr)
def test_empty_or_non_string_ids_are_refused(changes):
    with pytest.raises(MalformedEvent):
        decode(raw(**changes))


@pytest.mark.parametrize("recipients", ["@bob:ru", {"@bob:ru": 1}], ids=["string", "object"])
def test_recipients_must_be_a_list(recipients):
    with pytest.raises(MalformedEvent):
        decode(raw(recipients=recipients))


def test_an_event_from_before_audiences_still_decodes():
    event = decode(raw(audience=...))
    assert (event.kind, event.audience) == (events.MESSAGE_CREATED, "")


@pytest.mark.parametrize("audience", [None, 7, ["g/ru/0123456789abcdef"]])
def test_a_non_string_audience_is_refused(audience):
    with pytest.raises(MalformedEvent):
        decode(raw(audience=audience))


@pytest.mark.parametrize("changes", [{"at": "now"}, {"at": None}, {"data": []}, {"data": "text"}, {"data": None}],
                         ids=repr)
def test_a_non_numeric_time_or_non_object_data_is_refused(changes):
    with pytest.raises(MalformedEvent):
        decode(raw(**changes))
