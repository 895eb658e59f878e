"""svyaz.e2e runs on users' devices and in the node's checks: pure, no I/O (its __init__ says so)."""

from __future__ import annotations

from pathlib import Path

import pytest

import svyaz.e2e

from tests.layering import imported_modules, within

E2E_DIR = Path(svyaz.e2e.__file__).parent
ALLOWED_SVYAZ = ("svyaz.errors", "svyaz.gost", "svyaz.e2e")
IO = ("trio", "pymongo", "bson", "confluent_kafka", "socket", "subprocess", "pathlib", "os")


@pytest.mark.parametrize("path", sorted(E2E_DIR.glob("*.py")), ids=lambda path: path.name)
def test_e2e_imports_only_crypto_and_no_io(path):
    imports = imported_modules(path)
    assert all(within(name, ALLOWED_SVYAZ) for name in imports if within(name, ("svyaz",))), imports
    assert not {name for name in imports if within(name, IO)}
