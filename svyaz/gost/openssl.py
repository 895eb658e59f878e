"""Running the `openssl` binary with Debian's GOST engine: the one place that drives it.

Used where the engine can do what the in-process provider cannot (GOST R 34.10-2012 keys,
Kuznyechik modes). Data goes in on stdin; only stderr is ever quoted in an error, and openssl
never prints key material there.
"""

from __future__ import annotations

import subprocess

from svyaz.gost.provider import GostUnavailable

OPENSSL = "openssl"
ENGINE = "gost"
ENGINE_HINT = "apt-get install libengine-gost-openssl (it provides OpenSSL's `gost` engine)"
TIMEOUT_S = 10.0


class OpenSslFailed(GostUnavailable):
    """openssl ran but could not do what was asked (a bad key file, an unreadable path, ...)."""

    code = "gost_openssl_error"


def run(arguments: list[str], *, data: bytes, doing: str) -> subprocess.CompletedProcess[bytes]:
    """Run openssl; GostUnavailable if it or its GOST engine is missing, whatever `doing` needed."""
    try:
        result = subprocess.run(
            [OPENSSL, *arguments], input=data, capture_output=True, timeout=TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise GostUnavailable(
            f"the `openssl` command is not installed; it is needed to {doing}",
            hint="apt-get install openssl libengine-gost-openssl",
        ) from None
    except subprocess.TimeoutExpired:
        raise OpenSslFailed(f"openssl did not {doing} within {TIMEOUT_S:.0f} s") from None
    if b"Invalid engine" in result.stderr or b"no such engine" in result.stderr:
        raise GostUnavailable(f"OpenSSL has no `{ENGINE}` engine, which is needed to {doing}", hint=ENGINE_HINT)
    return result


def output(arguments: list[str], *, data: bytes = b"", doing: str,
           failure: type[OpenSslFailed] = OpenSslFailed) -> bytes:
    """openssl's stdout; `failure` (with openssl's reason) if it exits non-zero."""
    result = run(arguments, data=data, doing=doing)
    if result.returncode != 0:
        raise failure(f"openssl could not {doing}: {reason(result.stderr)}")
    return result.stdout


def reason(stderr: bytes) -> str:
    # openssl announces the engine on stderr even on success; the first other line is the reason.
    lines = [line.strip() for line in stderr.decode("utf-8", errors="replace").splitlines()]
    reasons = [line for line in lines if line and not line.startswith('Engine "')]
    return (reasons[0] if reasons else "no reason given")[:200]
