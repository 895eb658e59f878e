"""The import rules that svyaz/rbac/__init__.py states, checked on the source so they stay true."""

from __future__ import annotations

from pathlib import Path

import pytest

import svyaz.rbac

from tests.layering import imported_modules, within

RBAC_DIR = Path(svyaz.rbac.__file__).parent
ALLOWED_SVYAZ = ("svyaz.errors", "svyaz.regions", "svyaz.compliance.audit.event", "svyaz.rbac")
IO = ("trio", "pymongo", "bson", "confluent_kafka")
PURE_MODULES = ("actions", "roles", "principal", "assignment", "changes", "errors", "index", "policy")


@pytest.mark.parametrize("path", sorted(RBAC_DIR.glob("*.py")), ids=lambda path: path.name)
def test_rbac_imports_only_the_svyaz_modules_it_may(path):
    svyaz_imports = {name for name in imported_modules(path) if within(name, ("svyaz",))}
    assert all(within(name, ALLOWED_SVYAZ) for name in svyaz_imports), svyaz_imports


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_do_no_io(module):
    imports = imported_modules(RBAC_DIR / f"{module}.py")
    assert not {name for name in imports if within(name, IO)}


def test_every_module_is_listed_in_the_package_docstring():
    modules = {path.stem for path in RBAC_DIR.glob("*.py")} - {"__init__"}
    assert all(f"  {name} " in svyaz.rbac.__doc__ or f"`{name}`" in svyaz.rbac.__doc__ for name in modules)
