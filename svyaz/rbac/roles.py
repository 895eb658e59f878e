"""The role names, which of them are held implicitly and which are granted, which grants would
break separation of duties, and which roles need a second factor.

Implicit roles come with the credential: `anonymous` for a caller without a token, `user` for any
signed-in account, `service` for a federation peer whose signature verified. Granted roles are
assignments in the role store, each for one region; nothing else in Svyaz stores roles.

This module is pure (standard library only) and is the one place these names are defined:
`svyaz.identity` imports `ROLES_REQUIRING_2FA` from here for its sign-in rule.
"""

from __future__ import annotations

ANONYMOUS = "anonymous"
USER = "user"
SERVICE = "service"
MODERATOR = "moderator"
SECURITY_OFFICER = "security_officer"
AUDITOR = "auditor"
AUTHORITY = "authority"
ADMIN = "admin"

IMPLICIT_ROLES = frozenset({ANONYMOUS, USER, SERVICE})
GRANTABLE_ROLES = frozenset({MODERATOR, SECURITY_OFFICER, AUDITOR, AUTHORITY, ADMIN})
ALL_ROLES = IMPLICIT_ROLES | GRANTABLE_ROLES

# Roles that read other people's data or change who may: a stolen password alone must not be
# enough. Enforced in two places that both import this set: `role.grant` refuses them to an
# account without confirmed 2FA (svyaz.rbac.administration), and sign-in and turning 2FA off
# refuse an account holding one without it (svyaz.identity.service).
ROLES_REQUIRING_2FA = frozenset({SECURITY_OFFICER, AUDITOR, AUTHORITY, ADMIN})

# Pairs one account may not hold in the same region. Whoever hands out roles does not review
# lawful requests or audit; whoever reviews lawful requests is not the one auditing the reviews;
# an authority is an outside body and holds no role inside the operator.
_CONFLICTS = frozenset({
    frozenset({ADMIN, SECURITY_OFFICER}),
    frozenset({ADMIN, AUDITOR}),
    frozenset({SECURITY_OFFICER, AUDITOR}),
    *(frozenset({AUTHORITY, role}) for role in GRANTABLE_ROLES - {AUTHORITY}),
})


def conflicts_with(role: str, held: frozenset[str] | set[str]) -> frozenset[str]:
    """The roles in `held` (same account, same region) that may not be combined with `role`."""
    return frozenset(other for other in held if frozenset({role, other}) in _CONFLICTS)
