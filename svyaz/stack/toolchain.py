"""Finding and fetching what the stack runs: Java, Maven, Go, Debian packages, Kafka jars, FerretDB
(built from source with our patches).

Every step is idempotent and cached under `cache_dir()`; each missing tool is reported with the
command that installs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from svyaz.errors import SvyazError
from svyaz.stack.topology import cache_dir

FERRETDB_MODULE_ROOT = "github.com/FerretDB/FerretDB"
FERRETDB_VERSION = "v1.24.2"
# Our build of that release: the patches below, from deploy/ferretdb/, applied in order. Bump the
# label on any change to them: it names the cached binary, so no binary of another build is reused,
# and FerretDB reports it in `buildInfo` (`ferretdbVersion: v1.24.2-svyaz1`).
FERRETDB_BUILD = "svyaz1"
FERRETDB_PATCHES = ("sqlite-id-index.patch",)  # docs/adr/0003-ferretdb-id-index-patch.md
DEBIAN_PACKAGES = ("restic", "libengine-gost-openssl")
MIN_JAVA = 17

Progress = Callable[[str], None]


def deploy_dir() -> Path:
    """The repository's `deploy/` folder: the stack runs from a source checkout."""
    path = Path(__file__).resolve().parents[2] / "deploy"
    if not (path / "kafka" / "pom.xml").is_file():
        raise SvyazError(
            f"stack files not found under {path}",
            hint="run `svyaz stack` from a source checkout installed with `make install`",
        )
    return path


def require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise SvyazError("Java not found", hint="apt-get install openjdk-17-jre-headless")
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    major = int(match.group(1)) if match else 0
    if major < MIN_JAVA:
        raise SvyazError(
            f"Kafka 4 needs Java {MIN_JAVA} or newer, found {major or 'unknown'} at {java}",
            hint="apt-get install openjdk-17-jre-headless, or put a newer java first on PATH",
        )
    return java


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SvyazError(f"{name} not found on PATH", hint=hint)
    return path


def _dpkg_installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return result.returncode == 0 and "install ok installed" in result.stdout


def ensure_debian_packages(progress: Progress, packages: tuple[str, ...] = DEBIAN_PACKAGES) -> None:
    """apt-get install what is missing; as non-root, say which command to run instead."""
    if shutil.which("dpkg-query") is None:
        raise SvyazError(
            "not a Debian-based system: cannot check for " + ", ".join(packages),
            hint="install restic and the OpenSSL GOST engine (gost-engine) with your package manager",
        )
    missing = [p for p in packages if not _dpkg_installed(p)]
    if not missing:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        raise SvyazError(
            "missing Debian packages: " + ", ".join(missing),
            hint="sudo apt-get update && sudo " + " ".join(command),
        )
    progress("installing Debian packages: " + ", ".join(missing))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run_streamed(["apt-get", "update", "-q"], progress, env=env, show=lambda line: None)
    _run_streamed(command, progress, env=env, show=lambda line: line.startswith(("Get:", "Setting up")))


def kafka_lib_dir(progress: Progress) -> Path:
    """Kafka, MirrorMaker 2 and log4j2 jars from Maven Central, resolved once per pom version."""
    pom = deploy_dir() / "kafka" / "pom.xml"
    key = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    lib = cache_dir() / "kafka" / key / "lib"
    done = lib.parent / ".complete"
    if done.exists():
        return lib
    mvn = require_tool("mvn", hint="apt-get install maven")
    require_java()
    progress("resolving Kafka jars from Maven Central (first run only)")
    staging = Path(tempfile.mkdtemp(prefix="lib.", dir=_mkdir(lib.parent)))
    _run_streamed(
        [mvn, "-B", "-f", str(pom), "dependency:copy-dependencies",
         f"-DoutputDirectory={staging}", "-DincludeScope=runtime"],
        progress,
        show=lambda line: line.startswith("Downloaded from"),
    )
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)
    done.touch()
    return lib


def ferretdb_binary(progress: Progress) -> Path:
    """FerretDB built once from the Go module proxy, with our patches, into the cache.

    A plain `go install ...@v1.24.2` builds a binary that panics at start: FerretDB embeds
    `build/version/version.txt`, which its release tooling writes and the module zip leaves empty.
    So we download the module, apply `FERRETDB_PATCHES` to a copy, write that file, and `go build`
    the copy. A patch that does not apply exactly stops the build (see `apply_patch`).
    """
    build = f"{FERRETDB_VERSION}-{FERRETDB_BUILD}"
    target = cache_dir() / "bin" / f"ferretdb-{build}"
    if target.exists():
        return target
    patches = [deploy_dir() / "ferretdb" / name for name in FERRETDB_PATCHES]
    go = require_tool("go", hint="install Go 1.22 or newer (https://go.dev/doc/install or apt-get install golang)")
    progress(f"building FerretDB {build} from the Go module proxy (first run only, 2-4 minutes)")
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    download = subprocess.run(
        [go, "mod", "download", "-json", f"{FERRETDB_MODULE_ROOT}@{FERRETDB_VERSION}"],
        capture_output=True, text=True, env=env,
    )
    if download.returncode != 0:
        raise SvyazError(
            f"could not download FerretDB {FERRETDB_VERSION}: {download.stdout.strip() or download.stderr.strip()}",
            hint="check access to the Go module proxy (GOPROXY) and retry",
        )
    module_dir = Path(json.loads(download.stdout)["Dir"])
    with tempfile.TemporaryDirectory(dir=_mkdir(target.parent)) as scratch:
        source = Path(scratch, "src")
        shutil.copytree(module_dir, source)
        for path in source.rglob("*"):  # the module cache is read-only
            path.chmod(path.stat().st_mode | 0o200)
        for patch in patches:
            apply_patch(source, patch)
            progress(f"  applied {patch.name}")
        (source / "build" / "version" / "version.txt").write_text(build + "\n")
        built = Path(scratch, "ferretdb")
        _run_streamed(
            [go, "build", "-trimpath", "-o", str(built), "./cmd/ferretdb"],
            progress, env=env, cwd=source,
            show=lambda line: line.startswith("go: downloading"),
        )
        built.rename(target)
    return target


@dataclass(frozen=True)
class _Hunk:
    header: str
    old_start: int  # 1-based, as in `@@ -old_start,len ...`
    old: list[str]
    new: list[str]


_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def apply_patch(root: Path, patch: Path) -> None:
    """Apply a unified diff (paths `a/...`, `b/...`, as for `patch -p1`) to the tree at `root`.

    Stricter than `patch`: no fuzz and no offset. Every context and removed line must be found,
    exactly, at the line the hunk names, or nothing is written and a `SvyazError` says which file,
    line and text differ. A new FerretDB release therefore cannot skip a patch silently; someone
    has to look at it again. Only changes to existing files are supported. (Python rather than
    `patch` or `git apply`: neither is guaranteed on a stock Debian.)
    """
    changes = _parse_unified_diff(patch)
    results: dict[Path, str] = {}
    for rel, hunks in changes:
        path = root / rel
        if not path.is_file():
            raise _patch_mismatch(patch, f"{rel} does not exist in the source")
        text = path.read_bytes().decode()  # bytes: no newline translation either way
        lines = (text[:-1] if text.endswith("\n") else text).split("\n")
        shift = 0
        for hunk in hunks:
            at = (hunk.old_start - 1 if hunk.old else hunk.old_start) + shift
            for k, expected in enumerate(hunk.old):
                found = lines[at + k] if 0 <= at + k < len(lines) else "<end of file>"
                if found != expected:
                    raise _patch_mismatch(
                        patch, f"{rel} line {at + k + 1} ({hunk.header}): expected {expected!r}, found {found!r}"
                    )
            lines[at:at + len(hunk.old)] = hunk.new
            shift += len(hunk.new) - len(hunk.old)
        results[path] = "\n".join(lines) + ("\n" if text.endswith("\n") else "")
    for path, text in results.items():  # all or nothing
        path.write_bytes(text.encode())


def _parse_unified_diff(patch: Path) -> list[tuple[str, list[_Hunk]]]:
    """The files and hunks of a unified diff; text before the first `--- ` line is a free comment."""
    lines = patch.read_bytes().decode().split("\n")
    files: list[tuple[str, list[_Hunk]]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old_name = line[4:].split("\t")[0].strip()
            new_name = lines[i + 1][4:].split("\t")[0].strip()
            if "/dev/null" in (old_name, new_name) or "/" not in new_name:
                raise _patch_mismatch(patch, f"unsupported file header {new_name!r} (only edits of existing files, -p1)")
            files.append((new_name.split("/", 1)[1], []))
            i += 2
            continue
        header = _HUNK_HEADER.match(line)
        if header is None:
            i += 1
            continue
        if not files:
            raise _patch_mismatch(patch, f"hunk {line!r} before any file header")
        old_len = int(header.group(2) or 1)
        new_len = int(header.group(4) or 1)
        old: list[str] = []
        new: list[str] = []
        i += 1
        while len(old) < old_len or len(new) < new_len:
            body = lines[i] if i < len(lines) else None
            if body is None or body[:1] not in (" ", "-", "+", ""):
                raise _patch_mismatch(patch, f"hunk {header.group(0)} is malformed or truncated near {body!r}")
            tag, text = (body[:1] or " "), body[1:]  # an empty line is an empty context line
            if tag in " -":
                old.append(text)
            if tag in " +":
                new.append(text)
            i += 1
        if len(old) != old_len or len(new) != new_len:
            raise _patch_mismatch(patch, f"hunk {header.group(0)} line counts do not match its body")
        files[-1][1].append(_Hunk(header.group(0), int(header.group(1)), old, new))
    if not any(hunks for _, hunks in files):
        raise _patch_mismatch(patch, "no hunks found")
    return files


def _patch_mismatch(patch: Path, detail: str) -> SvyazError:
    return SvyazError(
        f"cannot apply {patch.name} to FerretDB {FERRETDB_VERSION}: {detail}",
        hint=f"the patch or the FerretDB source changed (an upgrade?): review {patch} against the "
             "new source as docs/adr/0003-ferretdb-id-index-patch.md describes, then bump FERRETDB_BUILD",
    )


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _run_streamed(
    argv: list[str],
    progress: Progress,
    *,
    show: Callable[[str], bool],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    """Run a long install step, echoing the lines `show` picks; on failure quote the tail of its output."""
    tail: list[str] = []
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        text=True, env=env, cwd=cwd,
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            tail = (tail + [line])[-15:]
            if show(line):
                progress("  " + line[:120])
    if proc.returncode != 0:
        raise SvyazError(
            f"`{' '.join(argv[:3])} ...` failed (exit {proc.returncode}):\n    " + "\n    ".join(tail),
            hint="check the network access to the package registry and retry; the step is cached once it succeeds",
        )
