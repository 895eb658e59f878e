"""The import rules svyaz/compliance/audit/__init__.py states, checked on the source."""

from __future__ import annotations

from pathlib import Path

import pytest

import svyaz.compliance.audit

from tests.layering import imported_modules, within

AUDIT_DIR = Path(svyaz.compliance.audit.__file__).parent
ALLOWED_SVYAZ = ("svyaz.errors", "svyaz.regions", "svyaz.gost", "svyaz.compliance.audit")
IO = ("trio", "pymongo", "bson", "subprocess", "socket", "os", "fcntl", "tempfile", "shutil",
      "svyaz.gost.signing", "svyaz.compliance.audit.store", "svyaz.compliance.audit.log",
      "svyaz.compliance.audit.keys", "svyaz.compliance.audit.signer", "svyaz.compliance.audit.rotation",
      "svyaz.compliance.audit.anchor_file", "svyaz.compliance.audit.checkpointer",
      "svyaz.compliance.audit.checker")
PURE_MODULES = ("canonical", "chain", "checkpoint", "verify", "event", "anchors")
DRIVER_HOMES = {
    "pymongo": {"store"}, "bson": {"store"}, "trio": {"log"},
    "svyaz.gost.signing": {"keys", "signer", "rotation", "cli"},
}


@pytest.mark.parametrize("path", sorted(AUDIT_DIR.glob("*.py")), ids=lambda path: path.name)
def test_audit_imports_only_the_svyaz_packages_it_may(path):
    svyaz_imports = {name for name in imported_modules(path) if within(name, ("svyaz",))}
    assert all(within(name, ALLOWED_SVYAZ) for name in svyaz_imports), svyaz_imports


@pytest.mark.parametrize("module", PURE_MODULES)
def test_domain_modules_do_no_io(module):
    imports = imported_modules(AUDIT_DIR / f"{module}.py")
    assert not {name for name in imports if within(name, IO)}


@pytest.mark.parametrize("driver", sorted(DRIVER_HOMES))
def test_each_driver_is_used_by_its_adapter_only(driver):
    users = {
        path.stem for path in AUDIT_DIR.glob("*.py")
        if any(within(name, (driver,)) for name in imported_modules(path))
    }
    assert users <= DRIVER_HOMES[driver]
