"""One-time recovery codes: shape, entropy, salted storage and single use."""

from __future__ import annotations

import math
import re

import pytest

from svyaz.identity import recovery
from svyaz.identity.errors import RecoveryCodeInvalid


def test_ten_codes_of_three_groups_from_the_unambiguous_alphabet():
    codes = recovery.generate()

    assert len(codes.codes) == 10 == len(set(codes.codes))
    group = "[0-9A-HJKMNP-TV-Z]{4}"
    assert all(re.fullmatch(f"{group}-{group}-{group}", code) for code in codes.codes)
    assert len(set(recovery.ALPHABET)) == 32 and not set("ILOU") & set(recovery.ALPHABET)
    assert recovery.CODE_LEN * math.log2(len(recovery.ALPHABET)) >= 60


def test_only_salted_hashes_are_kept_and_they_differ_per_account():
    first = recovery.generate()
    second = recovery.generate()

    assert all(code not in "".join(first.hashes) for code in first.codes)
    assert all(len(h) == 64 for h in first.hashes)  # hex Streebog-256
    assert first.salt != second.salt
    assert recovery.hash_code(first.codes[0], first.salt) != recovery.hash_code(first.codes[0], second.salt)


def test_a_code_is_found_whatever_its_case_dashes_or_confusable_letters():
    codes = recovery.generate()
    code = codes.codes[3]
    sloppy = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")

    assert recovery.find(code, codes.salt, codes.hashes) == codes.hashes[3]
    assert recovery.find(sloppy, codes.salt, codes.hashes) == codes.hashes[3]


def test_consuming_a_code_removes_it_so_it_works_once():
    codes = recovery.generate()
    left = recovery.consume(codes.codes[0], codes.salt, codes.hashes)

    assert len(left) == 9 and codes.hashes[0] not in left
    with pytest.raises(RecoveryCodeInvalid):
        recovery.consume(codes.codes[0], codes.salt, left)
    assert len(recovery.consume(codes.codes[1], codes.salt, left)) == 8


def test_a_wrong_code_is_refused():
    codes = recovery.generate()
    other = recovery.generate().codes[0]
    with pytest.raises(RecoveryCodeInvalid, match="wrong or was already used"):
        recovery.find(other, codes.salt, codes.hashes)


@pytest.mark.parametrize("code", ["", "ABCD-EFGH", "ABCD-EFGH-JKMN-P", "ABCD-EFGH-JKM!", "ABCD-EFGH-JKMU"])
def test_malformed_codes_are_refused_before_hashing(code):
    with pytest.raises(RecoveryCodeInvalid, match="12 letters and digits"):
        recovery.normalize(code)
