"""Shared test helpers: a unique id per test, so tests sharing one stack never see each other's data."""

from __future__ import annotations

import uuid

import pytest

from svyaz.stack.manager import Stack
from svyaz.regions import default_state_dir


# Every id handed out in this pytest run: the integration conftest removes their data afterwards,
# and only theirs, so two runs sharing a stack never delete each other's databases mid-test.
ISSUED_TEST_IDS: set[str] = set()


@pytest.fixture
def test_id() -> str:
    """A short unique token for database names and topic prefixes, e.g. `t3f9a1c2b`."""
    issued = "t" + uuid.uuid4().hex[:8]
    ISSUED_TEST_IDS.add(issued)
    return issued


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `disruptive` kill services of the shared stack (and start them again): they run
    last, in their own order, so no other test meets the stack while it is being disturbed."""
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


def pytest_report_header(config) -> list[str]:
    """Show, at the top of a run with integration tests, which real services they talk to."""
    if config.args and all("tests/unit" in str(arg) for arg in config.args):
        return []  # unit tests do no I/O, not even this
    lines = ["integration stack (state dir %s):" % default_state_dir()]
    statuses = Stack(default_state_dir(), progress=lambda _: None).status()
    for status in statuses:
        lines.append(f"  {status.service:<13} port {status.port or '-':>5}  "
                     f"{'healthy' if status.healthy else 'NOT healthy'}: {status.detail}")
    return lines if statuses else lines + ["  not running yet: the `stack` fixture starts it"]
