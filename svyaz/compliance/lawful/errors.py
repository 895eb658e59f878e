"""Why the lawful-access workflow refuses: one error root, `LawfulError`, and a stable code per reason.

The node's Api turns each into a wire error with its `code` (docs/protocol.md); the CLI prints the
message and the hint. Every refusal of a step is also written to the audit log by the workflow
(outcome `denied`, `detail.reason` = the code), so the codes here are what an auditor reads too.

Pure: the standard library and `svyaz.errors` only.
"""

from __future__ import annotations

from svyaz.errors import SvyazError


class LawfulError(SvyazError):
    code = "lawful_error"


# --- the request itself -------------------------------------------------------------------------

class UnknownRequest(LawfulError):
    """No such request in this region, or (for an authority) not one of its own: an authority
    never learns whether another authority's request exists."""

    code = "unknown_request"


class ForeignSubject(LawfulError):
    """The subject is a resident of another region: an authority reaches only its own region's
    residents. `region` names the subject's region; the hint refers the authority to its node."""

    code = "foreign_subject"

    def __init__(self, subject: str, region: str, here: str) -> None:
        super().__init__(f"{subject} is a resident of region {region}, not of {here}: this node "
                         "cannot act on it", hint=f"ask the {region} node")
        self.subject = subject
        self.region = region


class UnknownSubject(LawfulError):
    """The subject names no account of this region (or is not an account id at all)."""

    code = "unknown_subject"


class OutOfScopeCategory(LawfulError):
    """A data category outside model.CATEGORIES, or none at all."""

    code = "out_of_scope_category"


class BadTimeRange(LawfulError):
    """`since` must come before `until` (Unix seconds)."""

    code = "bad_time_range"


class BadDeadline(LawfulError):
    """The deadline must lie in the future when the request is submitted."""

    code = "bad_deadline"


class BadLegalBasis(LawfulError):
    """A legal basis field is missing or malformed: kind, number, date, issuer, document_hash."""

    code = "bad_legal_basis"


# --- steps --------------------------------------------------------------------------------------

class ForbiddenTransition(LawfulError):
    """The step cannot be taken from the request's state (model.STEPS): no step is skipped or
    repeated. `state` and `step` say which."""

    code = "forbidden_transition"

    def __init__(self, step: str, state: str, *, hint: str | None = None) -> None:
        super().__init__(f"a request in state {state} cannot take the step {step}", hint=hint)
        self.step = step
        self.state = state


class StepNotPermitted(LawfulError):
    """The caller's role may not take this step (e.g. an authority exporting)."""

    code = "step_not_permitted"


class AlreadyApproved(LawfulError):
    """This officer has approved the request already; a second approval by the same officer
    changes nothing (four-eyes needs two distinct officers)."""

    code = "already_approved"


class SubmitterCannotApprove(LawfulError):
    """The account that submitted the request cannot approve it (four-eyes: neither approver is
    the submitter), whatever roles it holds now."""

    code = "submitter_cannot_approve"


class ReasonRequired(LawfulError):
    """A rejection needs a reason the authority can read."""

    code = "reason_required"


class RequestExpired(LawfulError):
    """The request's deadline has passed: it is expired and takes no further step."""

    code = "request_expired"


# --- the store ----------------------------------------------------------------------------------

class LawfulStoreUnavailable(LawfulError):
    """The store did not answer; nothing was changed that the caller was not told about."""

    code = "store_unavailable"


class StepContended(LawfulError):
    """Other steps kept landing on the same request while this one was being decided; try again."""

    code = "step_contended"


class LawfulStoreCorrupt(LawfulError):
    """A stored request or its steps cannot be read back as a valid history (edited by hand?)."""

    code = "lawful_store_corrupt"
