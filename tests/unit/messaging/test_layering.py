"""The import rules svyaz/messaging/__init__.py states, checked on the source."""

from __future__ import annotations

from pathlib import Path

import pytest

import svyaz.messaging

from tests.layering import imported_modules, within

MESSAGING_DIR = Path(svyaz.messaging.__file__).parent
ALLOWED_SVYAZ = ("svyaz.errors", "svyaz.regions", "svyaz.identity.accounts", "svyaz.identity.errors",
                 "svyaz.messaging", "svyaz.e2e", "svyaz.gost")
DRIVERS = ("trio", "pymongo", "bson", "confluent_kafka")
PURE_MODULES = ("ids", "content", "events", "chatlist", "model", "errors", "paging", "safety", "presence",
                "at_rest", "secret_policy")


@pytest.mark.parametrize("path", sorted(MESSAGING_DIR.glob("*.py")), ids=lambda path: path.name)
def test_messaging_imports_only_what_it_may(path):
    svyaz_imports = {name for name in imported_modules(path) if within(name, ("svyaz",))}
    assert all(within(name, ALLOWED_SVYAZ) for name in svyaz_imports), svyaz_imports


@pytest.mark.parametrize("module", PURE_MODULES)
def test_domain_modules_do_no_io(module):
    imports = imported_modules(MESSAGING_DIR / f"{module}.py")
    assert not {name for name in imports if within(name, DRIVERS)}
