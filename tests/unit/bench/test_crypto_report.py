"""`svyaz bench crypto` reads `openssl speed -mr` right and combines openssl's pieces the way our
composite runs them (one after the other on the same data)."""

from __future__ import annotations

import pytest

from svyaz.bench import crypto


def test_the_machine_readable_rate_is_read():
    output = "+R:1671:kuznyechik-ctr:0.400000\n+H:16384\n+F:25:kuznyechik-ctr:68444160.00\n"
    assert float(crypto._OPENSSL_RESULT.search(output).group("rate")) == 68444160.0


def test_pieces_run_in_turn_combine_harmonically(monkeypatch):
    rates = {"a": 30e6, "b": 60e6}
    monkeypatch.setattr(crypto, "_openssl_speed_once", lambda option, algorithm, size, seconds: rates[algorithm])
    assert crypto._openssl_speed((("-evp", "a"), ("-cmac", "b")), 16384, 1.0) == pytest.approx(20e6)
    assert crypto._openssl_speed((("-evp", "a"),), 16384, 1.0) == pytest.approx(30e6)


def test_a_piece_openssl_cannot_run_leaves_the_comparison_empty(monkeypatch):
    monkeypatch.setattr(crypto, "_openssl_speed_once", lambda *args: None)
    assert crypto._openssl_speed((("-evp", "a"),), 16384, 1.0) is None
    assert crypto._openssl_speed((), 16384, 1.0) is None
