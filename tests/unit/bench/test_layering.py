"""The import rules svyaz/bench/__init__.py states, checked on the source."""

from __future__ import annotations

from pathlib import Path

import pytest

import svyaz.bench

from tests.layering import imported_modules, within

BENCH_DIR = Path(svyaz.bench.__file__).parent
PURE = ("stats", "schedule", "tally", "verdict", "traces", "crossings")
DRIVERS = ("trio", "pymongo", "bson", "confluent_kafka", "trio_websocket", "h11", "svyaz.client")
# nodetrace runs inside the node's process (python -m svyaz.bench.nodetrace), never in the bench's.
IN_THE_NODE = ("nodetrace",)
# svyaz.gost and svyaz.e2e are what client devices run too (`svyaz bench crypto` times them).
ALLOWED_SVYAZ = ("svyaz.errors", "svyaz.regions", "svyaz.stack.topology", "svyaz.client", "svyaz.bench",
                 "svyaz.gost", "svyaz.e2e")
MODULES = sorted(BENCH_DIR.glob("*.py"))


@pytest.mark.parametrize("path", [p for p in MODULES if p.stem in PURE], ids=lambda path: path.name)
def test_pure_modules_import_no_driver(path):
    assert not {name for name in imported_modules(path) if within(name, DRIVERS)}


@pytest.mark.parametrize("path", [p for p in MODULES if p.stem not in IN_THE_NODE], ids=lambda path: path.name)
def test_the_bench_is_a_client_and_imports_no_node_internals(path):
    svyaz_imports = {name for name in imported_modules(path) if within(name, ("svyaz",))}
    assert all(within(name, ALLOWED_SVYAZ) for name in svyaz_imports), svyaz_imports


def test_no_bench_module_imports_the_in_node_tracer():
    for path in MODULES:
        assert "svyaz.bench.nodetrace" not in imported_modules(path), path.name
