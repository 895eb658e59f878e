"""Walking a stored audit chain and naming the first place it was tampered with, and how.

The input is streamed: entries sorted by seq (duplicates next to each other), checkpoints sorted by
seq, and the documents that have no numeric seq at all. Memory stays constant whatever the length.
Diagnosis works from what an attacker with write access to the database can do:

  edited             an entry's fields no longer hash to its stored hash, or it is malformed
  deleted            a seq is missing, or an entry's predecessor (by prev_hash) exists nowhere
  inserted           two entries claim one seq, two entries follow the same predecessor, or an
                     entry's seq is not a positive integer
  reordered          an entry was written after an entry that now sits elsewhere
  truncated          the chain ends before the seq of a genuinely signed checkpoint
  rewritten          the chain is self-consistent but entry K's hash differs from the signed
                     checkpoint at K (entries were changed and every later hash recomputed)
  forged_checkpoint  a checkpoint is malformed or its signature does not verify
  forged_anchor      a line of the anchor file outside the database is malformed or not genuine
                     (found by `anchors`, which also reports truncated and rewritten)

Pure: signatures are checked and hashes located through functions the caller passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from svyaz.compliance.audit.chain import GENESIS_HASH, ChainEntry, MalformedEntry, parse_entry, recompute
from svyaz.compliance.audit.checkpoint import Checkpoint, MalformedCheckpoint, parse_checkpoint

KINDS = (
    "edited", "deleted", "inserted", "reordered", "truncated", "rewritten", "forged_checkpoint", "forged_anchor",
)

Document = Mapping[str, Any]
SignatureCheck = Callable[[Checkpoint], "str | None"]  # None if genuine, else why not
Locate = Callable[[str], Iterable[int]]  # seqs of the stored entries whose hash is the given one


@dataclass(frozen=True)
class Finding:
    kind: str
    position: int | None  # the first bad seq; None for a document that has no place in the chain
    explanation: str


@dataclass(frozen=True)
class Anchor:
    """A point already trusted (a verified checkpoint): the walk starts after it."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Report:
    entries: int  # entries walked and found linked (up to the finding, if any)
    last_seq: int
    last_hash: str
    last_checkpoint: int | None  # seq of the last checkpoint found genuine and matching
    finding: Finding | None
    anchors: int | None = None  # lines of the anchor file checked; None if there was none

    @property
    def ok(self) -> bool:
        return self.finding is None

    def summary(self) -> str:
        if self.finding is None:
            if self.last_checkpoint is None:
                return f"ok: {self.entries} entries, no signed checkpoint yet" + self._anchor_summary()
            text = f"ok: {self.entries} entries, last checkpoint at seq {self.last_checkpoint}"
            uncovered = self.last_seq - self.last_checkpoint
            if uncovered:
                text += f" ({uncovered} later entries not yet covered by a signature)"
            return text + self._anchor_summary()
        where = f" at seq {self.finding.position}" if self.finding.position is not None else ""
        return f"tampered: {self.finding.kind}{where}: {self.finding.explanation}"

    def _anchor_summary(self) -> str:
        return "" if self.anchors is None else f"; all {self.anchors} anchored checkpoints are in the database"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "last_seq": self.last_seq,
            "last_checkpoint": self.last_checkpoint,
            "anchors": self.anchors,
            "kind": self.finding.kind if self.finding else None,
            "position": self.finding.position if self.finding else None,
            "explanation": self.finding.explanation if self.finding else None,
        }


def verify_log(
    entries: Iterable[Document],
    checkpoints: Iterable[Document] = (),
    *,
    check_signature: SignatureCheck,
    locate: Locate = lambda _hash: (),
    stray_entries: Iterable[Document] = (),
    stray_checkpoints: Iterable[Document] = (),
    anchor: Anchor | None = None,
) -> Report:
    """Verify the chain from genesis (or from `anchor`) and stop at the first bad position.

    `locate` is only called to explain a broken link, so it may be slow (a query on the store).
    """
    walk = _Walk(anchor)
    pending = _Checkpoints(checkpoints, check_signature)

    def report(finding: Finding | None) -> Report:
        return Report(walk.count, walk.seq, walk.hash, pending.last_verified, finding)

    for seq, group in groupby(entries, key=lambda document: document.get("seq", _MISSING)):
        before = (walk.seq, walk.hash)
        finding = walk.step(seq, list(group), locate)
        if finding is not None and finding.position == before[0]:
            return report(finding)  # names the previous entry an intruder: more precise than its checkpoint
        # A checkpoint is checked once the entry after it was seen, which may show the checkpointed
        # entry to be an intruder (above). Otherwise its position comes first.
        if finding := pending.check_due(*before) or finding:
            return report(finding)
    if finding := pending.check_due(walk.seq, walk.hash) or pending.check_beyond(walk.seq):
        return report(finding)
    for document in stray_entries:
        return report(Finding(
            "inserted", None,
            f"an entry with {_describe_seq(document)} (_id {document.get('_id')}) lies outside the chain",
        ))
    for document in stray_checkpoints:
        return report(Finding(
            "forged_checkpoint", None,
            f"a checkpoint with {_describe_seq(document)} (_id {document.get('_id')}) names no position",
        ))
    return report(None)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe_seq(document: Document) -> str:
    return f"seq {document['seq']!r}" if "seq" in document else "no seq"


@dataclass
class _Walk:
    anchor: Anchor | None
    seq: int = 0
    hash: str = GENESIS_HASH
    count: int = 0
    # prev_hash of the last accepted entry: a next entry with the same one means an intruder.
    sibling_prev: str | None = field(default=None)

    def __post_init__(self) -> None:
        if self.anchor is not None:
            self.seq, self.hash = self.anchor.seq, self.anchor.hash

    def step(self, seq: object, documents: list[Document], locate: Locate) -> Finding | None:
        expected = self.seq + 1
        if not _is_integer(seq):
            return Finding(
                "inserted", None,
                f"an entry with seq {seq!r}, not an integer, lies between seq {self.seq} and {expected}",
            )
        assert isinstance(seq, int)
        if seq < expected:
            first = (self.anchor.seq if self.anchor else 0) + 1
            where = f"before seq {first}, where the chain starts" if seq < first else f"after seq {self.seq}"
            return Finding("inserted", seq, f"an entry with seq {seq} lies {where}")
        if seq > expected:
            gone = f"entry {expected} is" if seq == expected + 1 else f"entries {expected}..{seq - 1} are"
            return Finding("deleted", expected, f"{gone} missing: after seq {self.seq} comes seq {seq}")
        if len(documents) > 1:
            return Finding("inserted", seq, f"{len(documents)} entries claim seq {seq}; the chain has one")
        try:
            entry = parse_entry(documents[0])
        except MalformedEntry as err:
            return Finding("edited", seq, f"entry {seq} is malformed: {err}")
        if finding := self._link(entry, locate):
            return finding
        self.seq, self.hash, self.sibling_prev = entry.seq, entry.hash, entry.prev_hash
        self.count += 1
        return None

    def _link(self, entry: ChainEntry, locate: Locate) -> Finding | None:
        seq = entry.seq
        consistent = recompute(entry) == entry.hash
        links = entry.prev_hash == self.hash
        if consistent and links:
            return None
        if links:
            return Finding("edited", seq, f"entry {seq}'s fields do not hash to its stored hash")
        if consistent and self.anchor is not None and self.count == 0:
            return Finding(
                "rewritten", self.anchor.seq,
                f"entry {seq} follows an entry {self.anchor.seq} other than the one its signed "
                f"checkpoint names: entries up to seq {self.anchor.seq} were changed and the hashes "
                "after them recomputed",
            )
        if recompute(entry, prev_hash=self.hash) == entry.hash:
            return Finding("edited", seq, f"entry {seq}'s prev_hash was changed")
        if self.sibling_prev is not None and entry.prev_hash == self.sibling_prev:
            after = f"after entry {self.seq - 1}" if self.seq > 1 else "as the first entry"
            return Finding(
                "inserted", self.seq,
                f"entries {self.seq} and {seq} were both written {after}: entry {self.seq} was inserted",
            )
        elsewhere = [other for other in locate(entry.prev_hash) if other != seq]
        if elsewhere:
            return Finding(
                "reordered", seq,
                f"entry {seq} was written after the entry now at seq {min(elsewhere)}: entries were moved",
            )
        return Finding(
            "deleted", seq,
            f"entry {seq} does not follow entry {self.seq}, and the entry it was written after is gone",
        )


class _Checkpoints:
    """The checkpoint stream, consumed as the walk reaches each checkpoint's seq."""

    def __init__(self, documents: Iterable[Document], check_signature: SignatureCheck) -> None:
        self._documents: Iterator[Document] = iter(documents)
        self._check_signature = check_signature
        self._next: Document | None = next(self._documents, None)
        self.last_verified: int | None = None

    def _pop(self) -> Document | None:
        document, self._next = self._next, next(self._documents, None)
        return document

    def check_due(self, seq: int, hash_: str) -> Finding | None:
        """Check every checkpoint up to `seq`, whose entry hashed to `hash_`."""
        while self._next is not None and self._due(self._next, seq):
            checkpoint = self._genuine(self._pop())
            if isinstance(checkpoint, Finding):
                return checkpoint
            if checkpoint.seq != seq:
                raise ValueError("checkpoints must be passed sorted by seq")
            if checkpoint.entry_hash != hash_:
                return Finding(
                    "rewritten", checkpoint.seq,
                    f"entry {checkpoint.seq} hashes to {hash_[:16]}..., but the checkpoint signed at "
                    f"{checkpoint.time} says {checkpoint.entry_hash[:16]}...: entries up to seq "
                    f"{checkpoint.seq} were changed and the hashes after them recomputed",
                )
            self.last_verified = checkpoint.seq
        return None

    def check_beyond(self, last_seq: int) -> Finding | None:
        """After the last entry: any genuine checkpoint left means the chain was cut short."""
        highest: Checkpoint | None = None
        forged: Finding | None = None
        while self._next is not None:
            checkpoint = self._genuine(self._pop())
            if isinstance(checkpoint, Finding):
                forged = forged or checkpoint
            else:
                highest = checkpoint
        if highest is not None:
            return Finding(
                "truncated", last_seq + 1,
                f"the chain ends at seq {last_seq}, but a checkpoint signed at {highest.time} covers "
                f"seq {highest.seq}: entries {last_seq + 1}..{highest.seq} were removed",
            )
        return forged

    @staticmethod
    def _due(document: Document, seq: int) -> bool:
        value = document.get("seq")
        # A checkpoint without an integer seq is checked (and rejected) as soon as it is seen.
        return not _is_integer(value) or value <= seq

    def _genuine(self, document: Document) -> Checkpoint | Finding:
        seq = document.get("seq")
        position = seq if _is_integer(seq) else None
        try:
            checkpoint = parse_checkpoint(document)
        except MalformedCheckpoint as err:
            return Finding(
                "forged_checkpoint", position, f"the checkpoint at seq {seq!r} is malformed: {err}"
            )
        if (why := self._check_signature(checkpoint)) is not None:
            return Finding(
                "forged_checkpoint", checkpoint.seq,
                f"the checkpoint at seq {checkpoint.seq} is not genuine: {why}",
            )
        return checkpoint
