"""How our FerretDB build is patched and cached: a patch applies exactly or stops the build.

Fake source trees in tmp_path and a fake `go` on PATH; no network, no real build.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from svyaz.errors import SvyazError
from svyaz.stack import toolchain

METADATA_GO = "internal/backends/sqlite/metadata/metadata.go"
# Lines 20-34 of that file in FerretDB v1.24.2, the patch's context included.
ORIGINAL = """\
// Collection will probably have a method for getting column name / SQLite path expression for the given document field
// once we implement field extraction.
// IDColumn probably should go away.
// TODO https://github.com/FerretDB/FerretDB/issues/226

const (
\t// DefaultColumn is a column name for all fields.
\tDefaultColumn = backends.ReservedPrefix + "sjson"

\t// IDColumn is a SQLite path expression for _id field.
\tIDColumn = DefaultColumn + "->'$._id'"

\t// RecordIDColumn is a name for RecordID column to store capped collection record id.
\tRecordIDColumn = backends.ReservedPrefix + "record_id"
)
"""
HEAD = "".join(f"// line {n}\n" for n in range(1, 20))  # lines 1-19
TAIL = "\n// Collection represents collection metadata.\n"

# What each build label was reviewed with. Changing a patch without a new label would let a binary
# cached from the old patch be reused on machines that built it: bump FERRETDB_BUILD, then this.
REVIEWED = {"svyaz1": {"sqlite-id-index.patch": "8d1d3748d22a803be3733bc6840b1c7bb70ae640c26f545bf6bfab71f6bd31f7"}}


def id_index_patch() -> Path:
    return toolchain.deploy_dir() / "ferretdb" / "sqlite-id-index.patch"


def fake_source(root: Path, metadata_go: str) -> Path:
    path = root / METADATA_GO
    path.parent.mkdir(parents=True)
    path.write_text(metadata_go)
    return path


def test_the_id_index_patch_changes_only_the_id_expression(tmp_path):
    source = fake_source(tmp_path, HEAD + ORIGINAL + TAIL)

    toolchain.apply_patch(tmp_path, id_index_patch())

    patched = source.read_text()
    assert "\tIDColumn = DefaultColumn + \"->'_id'\"\n" in patched
    assert "DefaultColumn + \"->'$._id'\"" not in patched
    assert patched.startswith(HEAD) and patched.endswith(
        "\t// RecordIDColumn is a name for RecordID column to store capped collection record id.\n"
        "\tRecordIDColumn = backends.ReservedPrefix + \"record_id\"\n)\n" + TAIL
    )


def test_a_changed_source_stops_with_the_file_line_and_text(tmp_path):
    upgraded = ORIGINAL.replace("->'$._id'", "->'_id'")  # e.g. fixed upstream
    source = fake_source(tmp_path, HEAD + upgraded + TAIL)

    with pytest.raises(SvyazError) as caught:
        toolchain.apply_patch(tmp_path, id_index_patch())

    message = str(caught.value)
    assert "cannot apply sqlite-id-index.patch to FerretDB v1.24.2" in message
    assert f"{METADATA_GO} line 30" in message
    assert "expected" in message and "$._id" in message and "found" in message
    assert "docs/adr/0003-ferretdb-id-index-patch.md" in caught.value.hint
    assert source.read_text() == HEAD + upgraded + TAIL


def test_moved_lines_are_a_mismatch_not_an_offset(tmp_path):
    fake_source(tmp_path, "// a new licence line\n" + HEAD + ORIGINAL + TAIL)

    with pytest.raises(SvyazError, match="line 27"):
        toolchain.apply_patch(tmp_path, id_index_patch())


def test_a_missing_file_stops_the_build(tmp_path):
    with pytest.raises(SvyazError, match=f"{METADATA_GO} does not exist"):
        toolchain.apply_patch(tmp_path, id_index_patch())


def test_nothing_is_written_unless_every_hunk_of_every_file_applies(tmp_path):
    (tmp_path / "src").mkdir()
    first = tmp_path / "src" / "one.go"
    second = tmp_path / "src" / "two.go"
    first.write_text("a\nb\nc\n")
    second.write_text("x\ny\nz\n")
    patch = tmp_path / "two-files.patch"
    patch.write_text(
        "a comment before the first file\n"
        "--- a/one.go\n+++ b/one.go\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
        "--- a/two.go\n+++ b/two.go\n@@ -2,2 +2,2 @@\n-y\n+Y\n q\n"
    )

    with pytest.raises(SvyazError, match=r"two.go line 3 .*expected 'q', found 'z'"):
        toolchain.apply_patch(tmp_path / "src", patch)

    assert first.read_text() == "a\nb\nc\n"
    patch.write_text(patch.read_text().replace(" q\n", " z\n"))
    toolchain.apply_patch(tmp_path / "src", patch)
    assert (first.read_text(), second.read_text()) == ("a\nB\nc\n", "x\nY\nz\n")


@pytest.mark.parametrize("text, error", [
    ("", "no hunks found"),
    ("--- a/one.go\n+++ b/one.go\n@@ -1,3 +1,3 @@\n a\n-b\n", "malformed or truncated"),
    ("--- /dev/null\n+++ b/new.go\n@@ -0,0 +1 @@\n+x\n", "only edits of existing files"),
])
def test_a_malformed_patch_stops_the_build(tmp_path, text, error):
    (tmp_path / "one.go").write_text("a\nb\nc\n")
    patch = tmp_path / "bad.patch"
    patch.write_text(text)

    with pytest.raises(SvyazError, match=error):
        toolchain.apply_patch(tmp_path, patch)


def test_every_patch_in_deploy_is_applied_and_was_reviewed_for_this_build_label():
    folder = toolchain.deploy_dir() / "ferretdb"
    on_disk = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.glob("*.patch")}

    assert set(on_disk) == set(toolchain.FERRETDB_PATCHES)
    assert on_disk == REVIEWED.get(toolchain.FERRETDB_BUILD), (
        "a patch changed: bump FERRETDB_BUILD so no binary built from the old patch is reused, "
        "and record the new hashes in REVIEWED"
    )


@pytest.fixture
def fake_go(tmp_path, monkeypatch) -> Path:
    """A `go` on PATH that "downloads" FerretDB to a fake source tree and fails any build."""
    module = tmp_path / "module"
    module.mkdir()
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    go.write_text(
        "#!/bin/sh\n"
        f"if [ \"$1\" = mod ]; then echo '{json.dumps({'Dir': str(module)})}'; exit 0; fi\n"
        "echo 'fake go: no build here' >&2; exit 2\n"
    )
    go.chmod(go.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SVYAZ_CACHE_DIR", str(tmp_path / "cache"))
    return module


def test_a_source_the_patch_does_not_fit_leaves_no_binary_in_the_cache(fake_go):
    fake_source(fake_go, HEAD + ORIGINAL.replace("IDColumn =", "IDExpr =") + TAIL)

    with pytest.raises(SvyazError, match="cannot apply sqlite-id-index.patch"):
        toolchain.ferretdb_binary(progress=lambda _: None)

    assert list((fake_go.parent / "cache" / "bin").iterdir()) == []


def test_an_unpatched_binary_in_the_cache_is_never_reused(fake_go):
    bin_dir = fake_go.parent / "cache" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "ferretdb-v1.24.2").write_text("an unpatched build")

    with pytest.raises(SvyazError, match="does not exist in the source"):  # so it went on to build
        toolchain.ferretdb_binary(progress=lambda _: None)

    patched = bin_dir / f"ferretdb-v1.24.2-{toolchain.FERRETDB_BUILD}"
    patched.write_text("our build")
    assert toolchain.ferretdb_binary(progress=lambda _: None) == patched
