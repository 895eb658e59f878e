"""The rbac package's error root and its stable codes."""

from __future__ import annotations

from svyaz.errors import SvyazError


class RbacError(SvyazError):
    code = "rbac_error"


class Forbidden(RbacError):
    """The guard refused an action. The message names the action only: never which roles would
    have allowed it, nor which the caller holds (that is in the audit log, for officers). A handler's
    own refusal may add a hint saying what would make the action possible (e.g. the target account
    needs 2FA first)."""

    code = "forbidden"

    def __init__(self, action: str, *, hint: str | None = None) -> None:
        super().__init__(f"forbidden: {action}", hint=hint)
        self.action = action


class PolicyError(RbacError):
    """model.conf or policy.csv cannot be used; raised at start-up, naming the file and line."""

    code = "policy_error"


class InvalidAssignment(RbacError):
    """A role grant or revoke names a role that cannot be granted, an unknown region or a malformed
    account id."""

    code = "invalid_assignment"


class RoleStoreUnavailable(RbacError):
    """The store did not answer a role-assignment read or write; the message is the driver's reason."""

    code = "role_store_unavailable"


class ChangeNotPublished(RbacError):
    """A role change was stored but its event did not reach Kafka: other processes see it at their
    next full reload instead."""

    code = "change_not_published"
