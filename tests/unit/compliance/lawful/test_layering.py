"""The workflow's import rules (svyaz/compliance/lawful/__init__.py), checked on the source: its
rules are pure, and only its store adapter touches a driver."""

from __future__ import annotations

from pathlib import Path

import pytest

import svyaz.compliance.lawful

from tests.layering import imported_modules, within

LAWFUL_DIR = Path(svyaz.compliance.lawful.__file__).parent
PURE = {
    "model": (),
    "errors": ("svyaz.errors",),
    "workflow": ("svyaz.errors", "svyaz.compliance.audit.event", "svyaz.compliance.lawful.model",
                 "svyaz.compliance.lawful.errors", "svyaz.identity.accounts", "svyaz.identity.errors",
                 "svyaz.rbac.roles"),
}
DRIVERS = ("trio", "pymongo", "bson", "confluent_kafka", "subprocess", "socket", "os")


@pytest.mark.parametrize("module", sorted(PURE))
def test_the_rules_do_no_io_and_import_only_pure_svyaz_modules(module):
    imports = imported_modules(LAWFUL_DIR / f"{module}.py")
    assert not {name for name in imports if within(name, DRIVERS)}
    svyaz_imports = {name for name in imports if within(name, ("svyaz",))}
    assert all(within(name, PURE[module]) for name in svyaz_imports), svyaz_imports


def test_the_store_is_the_workflows_only_driver_user():
    mine = ("model", "errors", "workflow", "store", "workflow_cli")
    users = {name for name in mine if any(within(i, ("pymongo", "bson")) for i in imported_modules(LAWFUL_DIR / f"{name}.py"))}
    assert users == {"store"}
