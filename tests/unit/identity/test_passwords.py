"""PBKDF2-HMAC-Streebog-512 password hashes and the password policy."""

from __future__ import annotations

import base64

import pytest

from svyaz.identity import passwords
from svyaz.identity.accounts import AccountId
from svyaz.identity.errors import MalformedPasswordHash, WeakPassword
from svyaz.identity.passwords import check_password, hash_password, needs_rehash, verify_password

FAST = 2  # iterations: these tests are about the format and the rules, not the cost


def test_derivation_matches_r_50_1_111_2016():
    # R 50.1.111-2016 (and RFC 8018's shape): P="password", S="salt", c=1, dkLen=64.
    assert passwords.derive_key(b"password", b"salt", 1, 64).hex() == (
        "64770af7f748c3b1c9ac831dbcfd85c26111b30a8a657ddc3056b80ca73e040d"
        "2854fd36811f6d825cc4ab66ec0a68a490a9e5cf5156b3a2b7eecddbf9a16b47"
    )


def test_derivation_matches_r_50_1_111_2016_with_4096_iterations():
    # The standard's second vector: c=4096.
    assert passwords.derive_key(b"password", b"salt", 4096, 64).hex() == (
        "e52deb9a2d2aaff4e2ac9d47a41f34c20376591c67807f0477e32549dc341bc7"
        "867c09841b6d58e29d0347c996301d55df0d34e47cf68f4e3c2cdaf1d9ab86c3"
    )


def test_hash_is_self_describing_and_verifies():
    salt = bytes(range(16))
    encoded = hash_password("correct horse battery", iterations=FAST, salt=salt)

    scheme, iterations, salt_b64, key_b64 = encoded.split("$")
    assert (scheme, iterations) == ("pbkdf2-streebog512", str(FAST))
    assert base64.b64decode(salt_b64 + "==") == salt
    assert base64.b64decode(key_b64 + "==") == passwords.derive_key(b"correct horse battery", salt, FAST)
    assert verify_password("correct horse battery", encoded)
    assert not verify_password("correct horse batterY", encoded)


def test_each_hash_gets_its_own_16_byte_salt():
    first = hash_password("correct horse battery", iterations=FAST)
    second = hash_password("correct horse battery", iterations=FAST)

    assert first != second
    assert len(base64.b64decode(first.split("$")[2] + "==")) == 16


def test_default_hash_uses_the_default_iterations():
    encoded = hash_password("correct horse battery")
    assert encoded.split("$")[1] == str(passwords.DEFAULT_ITERATIONS)
    assert verify_password("correct horse battery", encoded)


def test_unicode_is_normalised_so_composed_and_decomposed_letters_match():
    composed = "пароль-ёжик-в-тумане"
    decomposed = composed.replace("ё", "е\u0308")
    assert composed != decomposed

    assert verify_password(decomposed, hash_password(composed, iterations=FAST))


def test_needs_rehash_when_the_iterations_change():
    encoded = hash_password("correct horse battery", iterations=FAST)

    assert not needs_rehash(encoded, iterations=FAST)
    assert needs_rehash(encoded, iterations=FAST + 1)
    assert needs_rehash(encoded)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "bcrypt$2$aaaa$bbbb",
        "pbkdf2-streebog512$many$AAAA$AAAA",
        "pbkdf2-streebog512$0$AAAA$AAAA",
        "pbkdf2-streebog512$10$!!!!$AAAA",
        "pbkdf2-streebog512$10$$AAAA",
        "pbkdf2-streebog512$10$AAAA",
    ],
)
def test_a_malformed_stored_hash_is_an_operator_error_not_a_mismatch(encoded):
    with pytest.raises(MalformedPasswordHash):
        verify_password("anything at all", encoded)


@pytest.mark.parametrize(
    "password",
    [
        "Tr0ub4dor&3x",
        "correct horse battery staple",
        "длинная-фраза-из-слов",
        "x7$kQ!" * 40 + "abcdefghijklmnop",  # exactly 256
    ],
)
def test_good_passwords_pass(password):
    check_password(password, "alice")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt!", "at least 10 characters"),
        ("a" * 257, "at most 256 characters"),
        ("qwertyuiop", "most common"),
        ("QwertyUiop", "most common"),
        ("Password123", "most common"),
        ("йцукенгшщз", "most common"),
        ("my-alice-password", "account name"),
        ("xxALICExx-2024", "account name"),
        ("abcdefghijkl", "must mix"),
        ("39571046283", "must mix"),
        ("ЖУРАВЛИНОЕ", "must mix"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    with pytest.raises(WeakPassword) as caught:
        check_password(password, "alice")
    assert reason in caught.value.reason
    assert caught.value.code == "weak_password"


def test_one_character_class_is_fine_for_a_long_passphrase():
    check_password("onlylowercaseletterslongenough", "alice")


def test_the_account_may_be_given_as_an_id():
    with pytest.raises(WeakPassword, match="account name"):
        check_password("hello-alice-2024", "@alice:ru")
    with pytest.raises(WeakPassword, match="account name"):
        check_password("hello-alice-2024", AccountId("alice", "ru"))


def test_the_common_password_list_is_a_data_file_of_about_a_hundred():
    common = passwords.common_passwords()
    assert 90 <= len(common) <= 150
    assert all(len(entry) >= passwords.MIN_LENGTH for entry in common)
