"""The append-only anchor file: one line per checkpoint, written and fsync'ed after the checkpoint
is stored (see `anchors` for what it proves). Blocking.

Appending after the database insert, never before: an anchor for a checkpoint that lost the race
to another process (and so was never stored) would later read as a removed checkpoint. A crash in
between leaves a checkpoint unanchored, which weakens the proof but raises no false alarm.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from svyaz.compliance.audit.anchors import anchor_line
from svyaz.compliance.audit.checkpoint import Checkpoint
from svyaz.errors import SvyazError


class AnchorFileError(SvyazError):
    """The anchor file could not be written or read."""

    code = "audit_anchor_file"


def append_anchor(path: Path, checkpoint: Checkpoint) -> None:
    """Append `checkpoint`'s line to `path` (created 0644 if new) and make it durable."""
    try:
        created = not path.exists()
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            # All processes of a node append here; the lock keeps the torn-line check and the write
            # of one process together.
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            line = anchor_line(checkpoint)
            if _ends_without_newline(path):
                line = b"\n" + line  # a line torn by a crash stays one bad line, not two merged ones
            os.write(descriptor, line)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)  # releases the lock
        if created:
            fsync_directory(path.parent)
    except OSError as err:
        raise AnchorFileError(
            f"checkpoint at seq {checkpoint.seq} is stored but not anchored in {path}: {err.strerror}",
            hint="fix the anchor file's directory (space, permissions); the next checkpoint is anchored again",
        ) from err


def read_anchors(path: Path) -> list[tuple[int, str]]:
    """Every line of `path` with its number (from 1); only "\\n" ends a line, as in the writer."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as err:
        raise AnchorFileError(
            f"cannot read the anchor file {path}: {err.strerror}",
            hint="pass --anchors with the node's anchors.jsonl, or --no-anchors",
        ) from err
    return list(enumerate(text.split("\n"), start=1))


def _ends_without_newline(path: Path) -> bool:
    with path.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        if size == 0:
            return False
        file.seek(size - 1)
        return file.read(1) != b"\n"


def fsync_directory(directory: Path) -> None:
    """Make a new or renamed entry of `directory` durable (the file's own fsync does not)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
