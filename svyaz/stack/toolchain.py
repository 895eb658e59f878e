"""Finding and fetching what the stack runs: Java, Maven, Go, Debian packages, Kafka jars, FerretDB.

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
from pathlib import Path

from svyaz.errors import SvyazError
from svyaz.stack.topology import cache_dir

FERRETDB_MODULE_ROOT = "github.com/FerretDB/FerretDB"
FERRETDB_VERSION = "v1.24.2"
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
    """FerretDB built once from the Go module proxy into the cache, named by its version.

    A plain `go install ...@v1.24.2` builds a binary that panics at start: FerretDB embeds
    `build/version/version.txt`, which its release tooling writes and the module zip leaves empty.
    So we download the module, write that file, and `go build` the copy.
    """
    target = cache_dir() / "bin" / f"ferretdb-{FERRETDB_VERSION}"
    if target.exists():
        return target
    go = require_tool("go", hint="install Go 1.22 or newer (https://go.dev/doc/install or apt-get install golang)")
    progress(f"building FerretDB {FERRETDB_VERSION} from the Go module proxy (first run only, 2-4 minutes)")
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
        (source / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
        built = Path(scratch, "ferretdb")
        _run_streamed(
            [go, "build", "-trimpath", "-o", str(built), "./cmd/ferretdb"],
            progress, env=env, cwd=source,
            show=lambda line: line.startswith("go: downloading"),
        )
        built.rename(target)
    return target


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
