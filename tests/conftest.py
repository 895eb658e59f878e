"""Shared test helpers: a unique id per test, so tests sharing one stack never see each other's data."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def test_id() -> str:
    """A short unique token for database names and topic prefixes, e.g. `t3f9a1c2b`."""
    return "t" + uuid.uuid4().hex[:8]
