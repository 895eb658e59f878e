"""policies/retention.toml parsed with errors naming the key; the purge rule, legal hold and the
walk of one chat (svyaz/compliance/lawful/retention.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import svyaz.compliance.lawful.retention as retention_module
import svyaz.compliance.lawful.transparency as transparency_module
from svyaz.compliance.lawful.retention import (
    BLANK,
    DAY_S,
    DELETE,
    KEEP,
    Cutoffs,
    Floors,
    LegalHold,
    RetentionPolicy,
    RetentionPolicyError,
    StoredMessage,
    parse_retention,
    purge_chat,
    verdict,
)
from svyaz.node.config import DEFAULT_POLICY_DIR
from svyaz.regions import KNOWN_REGIONS
from tests.layering import imported_modules, within

GOOD = {"content_days": 184, "content_basis": "149-FZ art. 10.1 p.3.1",
        "metadata_days": 1095, "metadata_basis": "149-FZ art. 10.1 p.3"}


# --- the file -----------------------------------------------------------------------------------------

def test_the_repository_file_gives_every_region_a_policy_with_its_citations():
    table = tomllib.loads((DEFAULT_POLICY_DIR / "retention.toml").read_text())
    policies = {region: parse_retention(table, region) for region in KNOWN_REGIONS}
    ru = policies["ru"]
    # Six months at their longest (184 days), and the 3-year metadata figure (docs/compliance.md says why).
    assert (ru.content_days, ru.metadata_days) == (184, 1095)
    assert "149-FZ art. 10.1 p.3.1" in ru.content_basis and "728" in ru.content_basis
    assert "374-FZ" in ru.metadata_basis and "unverified" in ru.metadata_basis
    for region in ("by", "kz"):
        assert "unverified" in policies[region].content_basis
        assert "unverified" in policies[region].metadata_basis


def test_a_good_table_parses():
    policy = parse_retention({"ru": GOOD}, "ru")
    assert policy == RetentionPolicy("ru", 184, 1095, "149-FZ art. 10.1 p.3.1", "149-FZ art. 10.1 p.3")


@pytest.mark.parametrize(("change", "message"), [
    ({"content_days": 0}, "ru.content_days: expected a whole number of days 1-36500, got 0"),
    ({"content_days": -5}, "ru.content_days: expected a whole number of days"),
    ({"content_days": "184"}, "ru.content_days: expected a whole number of days 1-36500, got '184'"),
    ({"content_days": 184.5}, "ru.content_days: expected a whole number"),
    ({"content_days": True}, "ru.content_days: expected a whole number of days 1-36500, got True"),
    ({"metadata_days": 36501}, "ru.metadata_days: expected a whole number of days 1-36500, got 36501"),
    ({"metadata_days": 100}, "ru.metadata_days (100) is shorter than ru.content_days (184)"),
    ({"content_basis": ""}, "ru.content_basis: expected the legal citation as a non-empty string"),
    ({"metadata_basis": 374}, "ru.metadata_basis: expected the legal citation"),
    ({"content_dayz": 3}, "ru.content_dayz: unknown key"),
])
def test_each_bad_value_is_named(change, message):
    with pytest.raises(RetentionPolicyError) as raised:
        parse_retention({"ru": {**GOOD, **change}}, "ru", source="policies/retention.toml")
    assert message in str(raised.value)
    assert str(raised.value).startswith("policies/retention.toml: ")


@pytest.mark.parametrize("key", ["content_days", "metadata_days", "content_basis", "metadata_basis"])
def test_each_missing_key_is_named(key):
    section = {name: value for name, value in GOOD.items() if name != key}
    with pytest.raises(RetentionPolicyError, match=f"ru.{key}"):
        parse_retention({"ru": section}, "ru")


def test_a_region_without_a_table_is_an_error_not_a_default():
    with pytest.raises(RetentionPolicyError, match=r"no \[kz\] table"):
        parse_retention({"ru": GOOD}, "kz")
    with pytest.raises(RetentionPolicyError, match="kz must be a table"):
        parse_retention({"kz": 5}, "kz")


def test_equal_content_and_metadata_retention_is_allowed():
    assert parse_retention({"by": {**GOOD, "content_days": 365, "metadata_days": 365}}, "by").content_days == 365


# --- the rule -----------------------------------------------------------------------------------------

NOW = 1_800_000_000.0
POLICY = RetentionPolicy("ru", 10, 30, "c", "m")
CUT = POLICY.cutoffs(NOW)


def test_cutoffs_are_days_before_now():
    assert CUT == Cutoffs(content=NOW - 10 * DAY_S, metadata=NOW - 30 * DAY_S)


@pytest.mark.parametrize(("age_s", "expected"), [
    (0, KEEP),
    (10 * DAY_S - 1, KEEP),
    (10 * DAY_S, KEEP),            # exactly at the content cut-off: still kept
    (10 * DAY_S + 1, BLANK),
    (30 * DAY_S, BLANK),           # exactly at the metadata cut-off: blanked, not deleted
    (30 * DAY_S + 1, DELETE),
    (400 * DAY_S, DELETE),
    (-60, KEEP),                   # a clock ahead of the purge's: kept
])
def test_verdict_at_and_around_the_boundaries(age_s, expected):
    assert verdict(NOW - age_s, CUT) == expected


# --- legal hold ---------------------------------------------------------------------------------------

GROUP = "g/ru/0123456789abcdef"
CHANNEL = "c/ru/fedcba9876543210"
HOLD = LegalHold(subjects=frozenset({"@sub:ru"}), shared_chats=frozenset({GROUP, CHANNEL}))


@pytest.mark.parametrize(("chat", "held"), [
    ("dm/@alice:ru/@sub:ru", True),
    ("dm/@sub:ru/@zed:ru", True),
    ("sc/@alice:ru/@sub:ru/00112233aabbccdd", True),
    ("dm/@alice:ru/@bob:ru", False),
    ("dm/@alice:ru/@sub:by", False),                 # another account, whatever its name
    (GROUP, True),
    ("g/ru/aaaaaaaaaaaaaaaa", False),
    (CHANNEL, True),
    (f"{CHANNEL}/p/7", True),                        # a held channel's comment threads
    ("c/ru/aaaaaaaaaaaaaaaa/p/7", False),
    ("nonsense", True),                              # cannot tell: held
])
def test_legal_hold_covers_private_chats_with_the_subject_and_its_groups_and_channels(chat, held):
    assert HOLD.holds(chat) is held


def test_no_subjects_hold_nothing():
    assert not LegalHold().holds("dm/@alice:ru/@bob:ru")


# --- the walk of one chat -----------------------------------------------------------------------------

class FakeChat:
    """One chat's messages in memory: seq -> [sent_at, purged]."""

    def __init__(self, sent: dict[int, float]) -> None:
        self.messages = {seq: [at, False] for seq, at in sent.items()}
        self.reads: list[int] = []

    def read(self, seq):
        self.reads.append(seq)
        found = self.messages.get(seq)
        return None if found is None else StoredMessage(sent_at=found[0], purged=found[1])

    def delete(self, seq):
        del self.messages[seq]

    def blank(self, seq):
        self.messages[seq][1] = True


def ages(*days: float) -> dict[int, float]:
    return {seq: NOW - day * DAY_S for seq, day in enumerate(days, start=1)}


def test_past_metadata_retention_is_deleted_past_content_retention_blanked_the_rest_kept():
    chat = FakeChat(ages(40, 31, 29, 11, 9, 1))
    done = purge_chat(chat, 6, Floors(), CUT)
    assert (done.deleted, done.blanked) == (2, 2)
    assert sorted(chat.messages) == [3, 4, 5, 6]
    assert [chat.messages[seq][1] for seq in (3, 4, 5, 6)] == [True, True, False, False]
    assert done.floors == Floors(metadata=3, content=5)
    assert chat.reads == [1, 2, 3, 3, 4, 5]  # stopped at the first message inside retention


def test_the_next_purge_starts_where_the_last_one_stopped():
    chat = FakeChat(ages(40, 31, 29, 11, 9, 1))
    first = purge_chat(chat, 6, Floors(), CUT)
    chat.reads.clear()
    again = purge_chat(chat, 6, first.floors, CUT)
    assert (again.deleted, again.blanked, again.floors) == (0, 0, first.floors)
    assert chat.reads == [3, 5]  # one read per walk: the message it stops at


def test_a_dry_run_counts_and_changes_nothing():
    chat = FakeChat(ages(40, 31, 29, 11, 9, 1))
    done = purge_chat(chat, 6, Floors(), CUT, dry_run=True)
    assert (done.deleted, done.blanked, done.floors) == (2, 2, Floors())
    assert sorted(chat.messages) == [1, 2, 3, 4, 5, 6] and not any(purged for _, purged in chat.messages.values())


def test_gaps_are_walked_over_and_a_purged_message_is_not_counted_twice():
    chat = FakeChat({1: NOW - 40 * DAY_S, 4: NOW - 20 * DAY_S, 6: NOW - 12 * DAY_S, 7: NOW})
    chat.messages[4][1] = True  # blanked by an earlier purge that did not record its floor
    done = purge_chat(chat, 7, Floors(), CUT)
    assert (done.deleted, done.blanked) == (1, 1)
    assert done.floors == Floors(metadata=4, content=7)


def test_everything_past_retention_up_to_the_last_seq():
    chat = FakeChat(ages(50, 45, 35))
    done = purge_chat(chat, 3, Floors(), CUT)
    assert (done.deleted, done.blanked, chat.messages) == (3, 0, {})
    assert done.floors == Floors(metadata=4, content=4)


def test_messages_past_the_last_seq_known_are_not_read():
    chat = FakeChat(ages(40, 40, 40))
    done = purge_chat(chat, 2, Floors(), CUT)
    assert done.deleted == 2 and 3 in chat.messages and 3 not in chat.reads


def test_nothing_to_do_reads_one_message():
    chat = FakeChat(ages(1, 0))
    done = purge_chat(chat, 2, Floors(), CUT)
    assert (done.deleted, done.blanked, done.floors) == (0, 0, Floors(metadata=1, content=1))
    assert chat.reads == [1, 1]


# --- layering -----------------------------------------------------------------------------------------

IO = ("trio", "pymongo", "bson", "confluent_kafka", "socket", "subprocess", "os", "svyaz.node")


@pytest.mark.parametrize("module", [retention_module, transparency_module], ids=lambda m: m.__name__)
def test_the_rules_do_no_io(module):
    imports = imported_modules(Path(module.__file__))
    assert not {name for name in imports if within(name, IO)}
