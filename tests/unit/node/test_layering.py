"""The import rules that svyaz/node/__init__.py states, checked on the source so they stay true."""

from __future__ import annotations

from pathlib import Path

import pytest

import svyaz.node

from tests.layering import imported_modules, within

NODE_DIR = Path(svyaz.node.__file__).parent
ALLOWED_SVYAZ = (
    "svyaz.errors", "svyaz.regions", "svyaz.gost", "svyaz.node",
    # the domain packages the node composes into its API
    "svyaz.identity", "svyaz.rbac", "svyaz.compliance", "svyaz.messaging", "svyaz.federation",
)
DRIVERS = ("trio", "trio_websocket", "h11", "pymongo", "bson", "confluent_kafka", "prometheus_client")
PURE_MODULES = ("config", "errors", "frames", "readiness", "redact")


@pytest.mark.parametrize("path", sorted(NODE_DIR.glob("*.py")), ids=lambda path: path.name)
def test_node_imports_only_the_svyaz_packages_it_may(path):
    svyaz_imports = {name for name in imported_modules(path) if within(name, ("svyaz",))}
    assert all(within(name, ALLOWED_SVYAZ) for name in svyaz_imports), svyaz_imports


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_import_no_io_library(module):
    imports = imported_modules(NODE_DIR / f"{module}.py")
    assert not {name for name in imports if within(name, DRIVERS)}
