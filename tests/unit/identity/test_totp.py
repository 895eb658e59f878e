"""TOTP: RFC 6238 appendix B, the ±1-step window, replay refusal, enrolment URI and the QR code."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from svyaz.identity.errors import TotpInvalid, TotpReplayed
from svyaz.identity.totp import TotpParams, code_at, enrol, provisioning_uri, render_qr, time_step, verify_code

# RFC 6238 appendix B: the seed is "1234567890" repeated to the hash's output size.
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
VECTORS = [
    (digest, now, codes[index])
    for now, *codes in RFC6238
    for index, digest in enumerate(("sha1", "sha256", "sha512"))
]


def b32(seed: bytes) -> str:
    return base64.b32encode(seed).decode("ascii")


@pytest.mark.parametrize(("digest", "now", "expected"), VECTORS, ids=[f"{d}-T{n}" for d, n, _ in VECTORS])
def test_rfc6238_appendix_b(digest, now, expected):
    params = TotpParams(digits=8, digest=digest)
    secret = b32(SEEDS[digest])

    assert code_at(secret, time_step(now, params), params) == expected
    assert verify_code(secret, expected, now=now, last_used_step=None, params=params) == now // 30


SECRET = b32(b"a twenty-byte secret")
NOW = 1_700_000_015.0  # inside step 56_666_667
STEP = int(NOW) // 30


def test_the_code_of_the_current_step_returns_that_step():
    assert verify_code(SECRET, code_at(SECRET, STEP), now=NOW, last_used_step=None) == STEP


@pytest.mark.parametrize("offset", [-1, +1])
def test_one_step_either_side_is_accepted_for_clock_drift(offset):
    assert verify_code(SECRET, code_at(SECRET, STEP + offset), now=NOW, last_used_step=None) == STEP + offset


@pytest.mark.parametrize("offset", [-2, +2, -10])
def test_two_steps_away_is_invalid(offset):
    with pytest.raises(TotpInvalid):
        verify_code(SECRET, code_at(SECRET, STEP + offset), now=NOW, last_used_step=None)


def test_a_zero_window_accepts_only_the_current_step():
    strict = TotpParams(window=0)
    with pytest.raises(TotpInvalid):
        verify_code(SECRET, code_at(SECRET, STEP - 1), now=NOW, last_used_step=None, params=strict)


def test_a_code_cannot_be_used_twice():
    code = code_at(SECRET, STEP)
    accepted = verify_code(SECRET, code, now=NOW, last_used_step=None)

    with pytest.raises(TotpReplayed):
        verify_code(SECRET, code, now=NOW + 5, last_used_step=accepted)


def test_an_older_step_after_a_newer_one_is_a_replay_even_inside_the_window():
    # The previous step's code is still in the window, but a later step was already accepted.
    with pytest.raises(TotpReplayed):
        verify_code(SECRET, code_at(SECRET, STEP - 1), now=NOW, last_used_step=STEP)


def test_the_next_step_is_accepted_after_the_current_one():
    assert verify_code(SECRET, code_at(SECRET, STEP + 1), now=NOW, last_used_step=STEP) == STEP + 1


def test_a_wrong_code_is_invalid_not_replayed():
    wrong = f"{(int(code_at(SECRET, STEP)) + 1) % 1_000_000:06d}"
    candidates = {code_at(SECRET, STEP + offset) for offset in (-1, 0, 1)}
    assert wrong not in candidates
    with pytest.raises(TotpInvalid):
        verify_code(SECRET, wrong, now=NOW, last_used_step=STEP)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"])
def test_malformed_codes_are_invalid(code):
    with pytest.raises(TotpInvalid, match="6 digits"):
        verify_code(SECRET, code, now=NOW, last_used_step=None)


def test_spaces_in_the_code_are_ignored():
    code = code_at(SECRET, STEP)
    assert verify_code(SECRET, f"{code[:3]} {code[3:]}", now=NOW, last_used_step=None) == STEP


def test_enrolment_makes_a_20_byte_secret_and_an_otpauth_uri():
    enrolment = enrol("@alice:ru")

    assert len(base64.b32decode(enrolment.secret + "=" * (-len(enrolment.secret) % 8))) == 20
    uri = urlparse(enrolment.uri)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == "/Svyaz:@alice:ru"
    query = parse_qs(uri.query)
    assert query["secret"] == [enrolment.secret]
    assert query["issuer"] == ["Svyaz"]
    assert enrol("@alice:ru").secret != enrolment.secret


def test_the_uri_names_non_default_parameters():
    query = parse_qs(urlparse(provisioning_uri(SECRET, "@bob:kz", TotpParams(digits=8, digest="sha256"))).query)
    assert query["digits"] == ["8"]
    assert query["algorithm"] == ["SHA256"]


def test_impossible_parameters_are_refused():
    with pytest.raises(ValueError):
        TotpParams(digest="md5")
    with pytest.raises(ValueError):
        TotpParams(digits=4)


def test_the_qr_code_is_a_rectangular_block_drawing():
    drawing = render_qr(enrol("@alice:ru").uri)
    lines = drawing.splitlines()

    assert len(lines) > 10
    assert len({len(line) for line in lines}) == 1  # a square, not ragged
    assert set(drawing) <= {"█", "▀", "▄", " ", "\xa0", "\n"}  # qrcode draws light modules as no-break spaces
    assert render_qr("otpauth://totp/x", invert=True) != render_qr("otpauth://totp/x")
