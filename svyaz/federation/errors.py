"""The federation error root and its stable codes (docs/federation.md lists them).

An inbound record that is refused raises one of the `Refused` kinds below. The consumer (next
step) counts them by `code`, audits them and moves the record to the dead-letter topic; it never
stops on one. The codes are part of the operator interface (metric labels, audit entries, dead-letter
headers): never rename one.
"""

from __future__ import annotations

from svyaz.errors import SvyazError


class FederationError(SvyazError):
    code = "federation_error"


class FederationConfigError(FederationError):
    """A federation setting is unusable; the message names the key (`federation.peers.kz[1]`)."""

    code = "federation_config"


class ResidencyViolation(FederationError):
    """A node was asked to route an event of a conversation it has no participant in and is not
    the home of: it must not hold that conversation, let alone send it on."""

    code = "residency"


class Refused(FederationError):
    """An inbound federation record that is not applied. `code` is its stable kind."""

    code = "refused"


class Unsigned(Refused):
    code = "unsigned"


class Forged(Refused):
    """The signature does not verify under the pinned key it names (or cannot be a signature)."""

    code = "forged"


class UnknownKey(Refused):
    """Signed by a key id the origin has no pinned key for: a rotation not yet configured here,
    or a forgery. Kept apart from `forged` because the fix (pin the new key) is an operator's."""

    code = "unknown_key"


class Oversized(Refused):
    code = "oversized"


class Malformed(Refused):
    """Not JSON, not an object, a missing, unknown or mistyped field."""

    code = "malformed"


class Skewed(Refused):
    """created_at is further in the future than the clock-skew bound allows."""

    code = "skewed"


class Replayed(Refused):
    """An event id or a sequence number already used for a different event (see ledger)."""

    code = "replayed"


class UnknownOrigin(Refused):
    """The origin is not a known region, or no key is pinned for it here."""

    code = "unknown_origin"


class Misrouted(Refused):
    """The destination is not this node's region (or equals the origin)."""

    code = "misrouted"


class GapTooLarge(Refused):
    """The event is further ahead of its stream than the hold-back bound: the ledger will not
    hold it. It goes to the dead-letter topic, to be re-driven once the missing events arrive."""

    code = "gap"


class NotPermitted(Refused):
    """A verified event asks for something its origin may not: to act for an account another
    region hosts, or to change a conversation this region does not store. Raised by the appliers."""

    code = "not_permitted"


REFUSAL_CODES = tuple(kind.code for kind in (
    Unsigned, Forged, UnknownKey, Oversized, Malformed, Skewed, Replayed, UnknownOrigin, Misrouted, GapTooLarge,
    NotPermitted,
))
