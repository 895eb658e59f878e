"""The messaging error root and its stable codes (docs/messaging.md lists them)."""

from __future__ import annotations

from svyaz.errors import SvyazError


class MessagingError(SvyazError):
    code = "messaging_error"


class InvalidMessage(MessagingError):
    """The message itself is unusable: empty, too long, a malformed id. Nothing was stored."""

    code = "invalid_message"


class UnknownRecipient(MessagingError):
    code = "unknown_account"


class NotAParticipant(MessagingError):
    """The caller is not in this chat; said the same way whether or not the chat exists."""

    code = "not_a_participant"


class Blocked(MessagingError):
    """The recipient does not accept messages from the sender. Said plainly: a sender left
    waiting for a reply that can never come would be worse."""

    code = "blocked"


class MessageNotFound(MessagingError):
    code = "message_not_found"


class NotYourMessage(MessagingError):
    code = "not_your_message"


class Unreachable(MessagingError):
    """A recipient lives in another region; conversations across borders come with federation."""

    code = "foreign_region"


class RateLimited(MessagingError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, hint="slow down; the answer says when to try again")
        self.retry_after_s = retry_after_s


class StoreUnavailable(MessagingError):
    code = "store_unavailable"


class NotPublished(MessagingError):
    """The message is stored but its event did not reach Kafka: the sender may resend safely
    (the same client id returns the stored message, and publishes again)."""

    code = "not_published"


class MalformedEvent(MessagingError):
    code = "malformed_event"


class InvalidPrekeys(MessagingError):
    """A published prekey bundle that is malformed or whose signed prekey its identity did not sign."""

    code = "invalid_prekeys"


class NoPrekeys(MessagingError):
    """The account has published no secret-chat keys, so no secret chat can be started with it."""

    code = "no_prekeys"


class ReportNotGenuine(MessagingError):
    """A secret message's revealed text and franking key do not open its stored commitment."""

    code = "report_not_genuine"


class NotConfirmed(MessagingError):
    """A change to a group or channel whose home node is in another region was sent there, but
    that node has not answered in time. It may still take effect: the same call again (a message
    with the same client_id) is safe and tells."""

    code = "not_confirmed"


class RefusedAtHome(MessagingError):
    """The home node of a group or channel in another region refused a change made here, with one
    of the codes a node of this version knows (see `known_code`)."""

    code = "refused_at_home"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = known_code(code)


def known_code(code: object) -> str:
    """`code` if it is one this version's messaging errors use, else `refused_at_home`: a code
    from another node is input, and a client's error handling must not meet one it cannot know."""
    codes = {kind.code for kind in _all_kinds(MessagingError)}
    return code if isinstance(code, str) and code in codes else RefusedAtHome.code


def _all_kinds(root: type) -> list[type]:
    kinds = [root]
    for sub in root.__subclasses__():
        kinds.extend(_all_kinds(sub))
    return kinds
