"""Region lists from the command line, stack addresses, and where the stack keeps its files."""

from __future__ import annotations

import os
from pathlib import Path

from svyaz.errors import SvyazError
from svyaz.regions import KNOWN_REGIONS, PORTS


def parse_regions(text: str) -> tuple[str, ...]:
    """`"ru,by"` → `("ru", "by")`, rejecting unknown or repeated regions with a clear error."""
    regions = tuple(part.strip() for part in text.split(",") if part.strip())
    if not regions:
        raise SvyazError("no region given", hint=f"pass --regions with some of {','.join(KNOWN_REGIONS)}")
    for region in regions:
        if region not in KNOWN_REGIONS:
            raise SvyazError(
                f"unknown region {region!r}", hint=f"use some of {','.join(KNOWN_REGIONS)}"
            )
    if len(set(regions)) != len(regions):
        raise SvyazError(f"region listed twice in {text!r}", hint="name each region once")
    return regions


def kafka_bootstrap(region: str) -> str:
    return f"127.0.0.1:{PORTS[region].kafka}"


def mongo_url(region: str) -> str:
    return f"mongodb://127.0.0.1:{PORTS[region].ferretdb}/"


def cache_dir() -> Path:
    """Downloads and builds shared by every clone on this machine: `$SVYAZ_CACHE_DIR` or ~/.cache/svyaz."""
    explicit = os.environ.get("SVYAZ_CACHE_DIR")
    if explicit:
        return Path(explicit).resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "svyaz"
