"""The import rules svyaz/identity/__init__.py states, checked on the source so they stay true, and
the one-definition rule for the roles needing 2FA."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import svyaz.identity

from tests.layering import imported_modules, within

IDENTITY_DIR = Path(svyaz.identity.__file__).parent
# Of svyaz.rbac only `roles` (pure): the one definition of ROLES_REQUIRING_2FA.
ALLOWED_SVYAZ = ("svyaz.errors", "svyaz.regions", "svyaz.gost", "svyaz.identity", "svyaz.rbac.roles")
DRIVERS = ("trio", "pymongo", "bson", "confluent_kafka", "trio_websocket", "h11")
ADAPTERS = ("store",)






MODULES = sorted(IDENTITY_DIR.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_identity_imports_only_the_svyaz_packages_it_may(path):
    svyaz_imports = {name for name in imported_modules(path) if within(name, ("svyaz",))}
    assert all(within(name, ALLOWED_SVYAZ) for name in svyaz_imports), svyaz_imports


@pytest.mark.parametrize("path", [p for p in MODULES if p.stem not in ADAPTERS], ids=lambda path: path.name)
def test_domain_modules_import_no_driver(path):
    assert not {name for name in imported_modules(path) if within(name, DRIVERS)}


def test_no_module_imports_the_store_adapter():
    for path in MODULES:
        assert "svyaz.identity.store" not in imported_modules(path), path.name


def test_importing_the_service_loads_no_trio_driver_or_casbin():
    # The AST rules above cannot see what svyaz.rbac's __init__ would import; the interpreter can.
    probe = (
        "import sys, svyaz.identity.service, svyaz.identity.tokens\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'trio', 'pymongo', 'bson', 'casbin', "
        "'confluent_kafka'})\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_roles_requiring_2fa_is_defined_once_in_svyaz_rbac_roles():
    import svyaz.identity.service
    import svyaz.rbac.roles

    assert svyaz.identity.service.ROLES_REQUIRING_2FA is svyaz.rbac.roles.ROLES_REQUIRING_2FA
    svyaz_dir = IDENTITY_DIR.parent
    defining = []
    for path in sorted(svyaz_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == "ROLES_REQUIRING_2FA" for t in targets):
                defining.append(path.relative_to(svyaz_dir).as_posix())
    assert defining == ["rbac/roles.py"]
