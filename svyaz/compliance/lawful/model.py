"""A lawful-access request and the steps of its life (issue 6; docs/compliance.md).

Pure: no I/O. The workflow (`workflow`) applies these steps through a store; the export, the
retention purge and the transparency report read the same records.

    submitted ──review──> in_review ──approve (officer 1)──> in_review (1 approval)
                                     ──approve (officer 2)──> approved ──export──> exported
                                     ──reject (reason)─────> rejected (final)
    exported ──deliver──> delivered ──close──> closed (final)
    any open state past its deadline ──expire──> expired (final)

Two distinct security officers approve, neither of them the submitter; an officer approving twice
changes nothing (the second approval is refused, and the request stays as it was). No step can be
skipped or repeated: `next_state` refuses anything but the arrows above.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# What an authority may ask for. "sessions" covers sign-ins and the addresses they came from.
CATEGORIES = ("metadata", "content", "media", "contacts", "sessions")

SUBMITTED, IN_REVIEW, APPROVED, REJECTED = "submitted", "in_review", "approved", "rejected"
EXPORTED, DELIVERED, CLOSED, EXPIRED = "exported", "delivered", "closed", "expired"
STATES = (SUBMITTED, IN_REVIEW, APPROVED, REJECTED, EXPORTED, DELIVERED, CLOSED, EXPIRED)
FINAL = frozenset({REJECTED, CLOSED, EXPIRED})
# While a request is open its subject's data is under legal hold: no retention purge touches it.
OPEN = frozenset({SUBMITTED, IN_REVIEW, APPROVED, EXPORTED, DELIVERED})

# The open states an overdue request leaves for EXPIRED. A delivered request has been answered: it
# waits for `close`, whatever its deadline.
EXPIRABLE = OPEN - {DELIVERED}

APPROVALS_NEEDED = 2

# The kinds of document a request may rest on; the document itself stays with the authority.
BASIS_KINDS = ("court_order", "prosecutor_sanction", "prosecutor_request", "investigator_request")

# step -> (states it may be taken from, the state it leads to); `approve` leads to APPROVED only
# with the second distinct approval (see `next_state`).
STEPS: dict[str, tuple[frozenset[str], str]] = {
    "review": (frozenset({SUBMITTED}), IN_REVIEW),
    "approve": (frozenset({IN_REVIEW}), APPROVED),
    "reject": (frozenset({SUBMITTED, IN_REVIEW}), REJECTED),
    "export": (frozenset({APPROVED}), EXPORTED),
    "deliver": (frozenset({EXPORTED}), DELIVERED),
    "close": (frozenset({DELIVERED}), CLOSED),
    "expire": (EXPIRABLE, EXPIRED),
}


@dataclass(frozen=True)
class LegalBasis:
    """The document the request rests on. The document itself stays with the authority; its
    Streebog-256 hash binds the request to it."""

    kind: str            # e.g. "court_order", "prosecutor_request"
    number: str
    date: str            # ISO date of the document, YYYY-MM-DD
    issuer: str          # the issuing body
    document_hash: str   # Streebog-256 of the attached document, 64 lowercase hex digits


@dataclass(frozen=True)
class Step:
    """One step taken: who took it (and in which role), when, and (for a rejection) why."""

    name: str
    actor: str
    at: float
    reason: str = ""
    role: str = ""       # `authority`, `security_officer`, or `node` for an expiry


@dataclass(frozen=True)
class LawfulRequest:
    id: str
    region: str                       # the node's region: an authority reaches only its own residents
    authority: str                    # the submitting authority account
    subject: str                      # the account the request is about (a resident of `region`)
    categories: tuple[str, ...]       # a non-empty subset of CATEGORIES
    since: float                      # the time range asked for, Unix seconds
    until: float
    deadline: float                   # after it the request expires
    basis: LegalBasis
    state: str = SUBMITTED
    submitted_at: float = 0.0
    approvals: tuple[str, ...] = ()   # the officers who approved, in order
    steps: tuple[Step, ...] = field(default_factory=tuple)

    @property
    def open(self) -> bool:
        return self.state in OPEN
