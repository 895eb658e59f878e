"""The import rules svyaz/federation/__init__.py states, checked on the source."""

from __future__ import annotations

from pathlib import Path

import pytest

import svyaz.federation

from tests.layering import imported_modules, within

FEDERATION_DIR = Path(svyaz.federation.__file__).parent
ALLOWED_SVYAZ = ("svyaz.errors", "svyaz.regions", "svyaz.gost", "svyaz.federation", "svyaz.identity.accounts",
                 "svyaz.identity.errors")
DRIVERS = ("trio", "pymongo", "bson", "confluent_kafka")
MODULES = sorted(FEDERATION_DIR.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_federation_imports_only_what_it_may(path):
    imports = imported_modules(path)
    svyaz_imports = {name for name in imports if within(name, ("svyaz",))}
    assert all(within(name, ALLOWED_SVYAZ) for name in svyaz_imports), svyaz_imports
    assert not {name for name in imports if within(name, DRIVERS)}


def test_every_module_is_checked():
    assert {path.stem for path in MODULES} >= {"envelope", "trust", "ledger", "residency", "mm2", "errors", "cli"}
