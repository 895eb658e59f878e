"""Account ids `@name:region`: what parses, what does not and what the refusal says."""

from __future__ import annotations

import pytest

from svyaz.identity.accounts import AccountId, format_account_id, parse_account_id
from svyaz.identity.errors import IdentityError, MalformedAccountId


@pytest.mark.parametrize("text", ["@alice:ru", "@abc:by", "@a_b.c9:kz", "@" + "a" * 32 + ":ru"])
def test_valid_ids_round_trip(text):
    account = parse_account_id(text)
    assert str(account) == text
    assert format_account_id(account.name, account.region) == text
    assert AccountId.parse(text) == account


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("alice:ru", "@name:region"),
        ("@alice", "@name:region"),
        ("@alice:ru:by", "@name:region"),
        ("@al:ru", "3-32 characters"),
        ("@" + "a" * 33 + ":ru", "3-32 characters"),
        ("@Alice:ru", "lowercase"),
        ("@9lives:ru", "start with a letter"),
        ("@_alice:ru", "start with a letter"),
        ("@ali-ce:ru", "'-'"),
        ("@алиса:ru", "may contain only"),
        ("@alice:de", "ru, by, kz"),
        ("@alice:RU", "ru, by, kz"),
        ("@alice:", "ru, by, kz"),
    ],
)
def test_malformed_ids_are_refused_with_the_reason(text, says):
    with pytest.raises(MalformedAccountId) as caught:
        parse_account_id(text)
    assert says in str(caught.value)
    assert caught.value.code == "malformed_account"
    assert isinstance(caught.value, IdentityError)


def test_uppercase_name_hint_suggests_the_lowercase_one():
    with pytest.raises(MalformedAccountId) as caught:
        parse_account_id("@Alice:ru")
    assert "'alice'" in caught.value.hint


def test_non_text_is_refused():
    with pytest.raises(MalformedAccountId):
        parse_account_id(None)  # type: ignore[arg-type]
