"""The export's import rules (svyaz/compliance/lawful/__init__.py), checked on the source: the
bundle, its encryption, the collection and the use cases touch no driver and no node internals;
only the shelf runs file work in trio threads."""

from __future__ import annotations

from pathlib import Path

import pytest

import svyaz.compliance.lawful

from tests.layering import imported_modules, within

LAWFUL_DIR = Path(svyaz.compliance.lawful.__file__).parent
DRIVERS = ("trio", "pymongo", "bson", "confluent_kafka", "subprocess", "socket")
ALLOWED = {
    "bundle": ("svyaz.gost", "svyaz.compliance.lawful"),
    "encryption": ("svyaz.gost", "svyaz.compliance.lawful"),
    "export_key": ("svyaz.gost", "svyaz.compliance.lawful.errors"),
    "collect": ("svyaz.compliance.lawful", "svyaz.e2e", "svyaz.gost.keys", "svyaz.identity.ports",
                "svyaz.messaging.errors", "svyaz.messaging.ids", "svyaz.messaging.model"),
    "export": ("svyaz.compliance.lawful", "svyaz.compliance.audit.event", "svyaz.gost", "svyaz.rbac.roles"),
}


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_the_export_modules_use_no_driver_and_import_only_what_they_may(module):
    imports = imported_modules(LAWFUL_DIR / f"{module}.py")
    assert not {name for name in imports if within(name, DRIVERS)}
    svyaz_imports = {name for name in imports if within(name, ("svyaz",))}
    assert all(within(name, ALLOWED[module]) for name in svyaz_imports), svyaz_imports


def test_no_export_module_reaches_into_the_node():
    # (export_cli's `export-key` reads node.data_dir from the node's configuration, on its machine.)
    for module in (*ALLOWED, "shelf"):
        assert not any(within(name, ("svyaz.node",)) for name in imported_modules(LAWFUL_DIR / f"{module}.py")), module
