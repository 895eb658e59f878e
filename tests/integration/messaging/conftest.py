"""Messaging tests run a real node (tests/integration/access/conftest.py) on the shared stack."""

from tests.integration.access.conftest import node  # noqa: F401 - the fixture, shared
