"""Checkpoints anchored outside the database, and what a copy of them proves about the stored log.

Someone who can write to the database can delete the tail of the log together with every
checkpoint after some earlier one; what is left verifies. So each checkpoint the node makes is also
appended, as one line of canonical JSON (the stored checkpoint document), to a file outside the
database. A genuine anchor line whose checkpoint is missing from the database, differs from it, or
lies beyond the end of the chain shows that the log was cut back. A line is evidence only if its
signature verifies with a trusted key: a forged or damaged line is reported as such, and never
passes for truncation.

(Not `verify.Anchor`, which is the trusted starting point of a partial walk.)
Pure: the caller reads the file and streams the stored checkpoints; signatures are checked through
the function it passes in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from svyaz.compliance.audit.canonical import canonical_json
from svyaz.compliance.audit.checkpoint import Checkpoint, MalformedCheckpoint, parse_checkpoint
from svyaz.compliance.audit.verify import Finding, SignatureCheck

FORGED_ANCHOR = "forged_anchor"


def anchor_line(checkpoint: Checkpoint) -> bytes:
    """The line appended for `checkpoint`, newline included (`jq` reads it like an exported one)."""
    return canonical_json(checkpoint.to_document()) + b"\n"


@dataclass(frozen=True)
class AnchorCheck:
    lines: int  # anchor lines read (blank ones aside)
    finding: Finding | None


def check_anchors(
    lines: Iterable[tuple[int, str]],
    stored: Iterable[Mapping[str, Any]],
    *,
    head: int,
    check_signature: SignatureCheck,
    source: str,
) -> AnchorCheck:
    """Compare numbered anchor lines with the stored checkpoints (any order) and the chain's head.

    Call it only on a log that verified: a line identical to a stored checkpoint is then genuine
    without checking its signature again. Evidence of truncation (the lowest seq) comes before a bad
    line (the first one).
    """
    anchored: dict[int, list[tuple[int, Checkpoint]]] = {}
    bad: list[tuple[int, Finding]] = []  # (line number, finding)
    count = 0
    for number, text in lines:
        if not text.strip():
            continue
        count += 1
        parsed = _parse(text)
        if isinstance(parsed, str):
            why = f"{source} line {number} is not a checkpoint: {parsed}"
            bad.append((number, Finding(FORGED_ANCHOR, None, why)))
        else:
            anchored.setdefault(parsed.seq, []).append((number, parsed))

    present: dict[int, list[Checkpoint]] = {}
    for document in stored:
        seq = document.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool) and seq in anchored:
            try:
                present.setdefault(seq, []).append(parse_checkpoint(document))
            except MalformedCheckpoint:
                present.setdefault(seq, [])  # there, but it cannot be the anchored one

    for seq in sorted(anchored):
        for number, anchor in anchored[seq]:
            if anchor in present.get(seq, ()):
                continue
            where = f"{source} line {number}"
            if (why := check_signature(anchor)) is not None:
                bad.append((number, Finding(FORGED_ANCHOR, seq, f"{where} (seq {seq}) is not genuine: {why}")))
                continue
            return AnchorCheck(count, _evidence(anchor, where, seq in present, head))
    return AnchorCheck(count, min(bad, key=lambda pair: pair[0])[1] if bad else None)


def _parse(text: str) -> Checkpoint | str:
    try:
        document = json.loads(text)
    except ValueError:
        return "not JSON (a damaged or partly written line?)"
    if not isinstance(document, dict):
        return "not a JSON object"
    try:
        return parse_checkpoint(document)
    except MalformedCheckpoint as err:
        return str(err)


def _evidence(anchor: Checkpoint, where: str, present: bool, head: int) -> Finding:
    signed = f"the checkpoint at seq {anchor.seq} anchored in {where} (signed at {anchor.time})"
    if anchor.seq > head:
        return Finding(
            "truncated", head + 1,
            f"the chain ends at seq {head}, but {signed} covers seq {anchor.seq}: entries "
            f"{head + 1}..{anchor.seq} were removed, and the checkpoints after them",
        )
    if not present:
        return Finding("truncated", anchor.seq, f"{signed} is missing from the database: it was removed")
    return Finding(
        "rewritten", anchor.seq,
        f"the database's checkpoint at seq {anchor.seq} differs from {signed}: the log was cut back "
        f"and entries up to seq {anchor.seq} written again",
    )
