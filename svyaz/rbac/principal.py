"""Who is asking: the caller as the guard sees it.

A Principal carries only what the credential proves: the actor id, the implicit role of that kind
of credential, and whether its session signed in with a second factor. Granted roles (moderator, admin, ...) are never taken from a token: the guard
looks them up in the role index, which the store keeps current, so a revocation takes effect
without waiting for tokens to expire.
"""

from __future__ import annotations

from dataclasses import dataclass

from svyaz.rbac.roles import ANONYMOUS, IMPLICIT_ROLES, SERVICE, USER


@dataclass(frozen=True)
class Principal:
    """actor:     `@alice:ru`, `service:<peer node>` or `anonymous`
    roles:     implicit roles only (`user`, `service`, `anonymous`)
    anonymous: no credential at all
    second_factor: the session signed in with a second factor (TOTP or a recovery code); the
               guard requires it for every action allowed only through a role in
               ROLES_REQUIRING_2FA
    """

    actor: str
    roles: tuple[str, ...]
    anonymous: bool = False
    second_factor: bool = False

    def __post_init__(self) -> None:
        if not self.actor or not self.actor.isprintable():
            raise ValueError("a principal needs a printable actor id")
        granted = set(self.roles) - IMPLICIT_ROLES
        if granted:
            raise ValueError(
                f"principal roles {sorted(granted)} are granted roles: the guard reads those from "
                "the store, a principal carries only implicit roles (user, service, anonymous)"
            )
        if self.anonymous != (self.actor == ANONYMOUS) or self.anonymous != (self.roles == (ANONYMOUS,)):
            raise ValueError("only the anonymous principal is anonymous; use Principal.nobody()")

    @classmethod
    def nobody(cls) -> Principal:
        """A caller that presented no credential."""
        return cls(ANONYMOUS, (ANONYMOUS,), anonymous=True)

    @classmethod
    def account(cls, account_id: str, *, second_factor: bool = False) -> Principal:
        """A signed-in account, e.g. `@alice:ru`."""
        if not account_id.startswith("@"):
            raise ValueError(f"account ids start with '@', got {account_id!r}")
        return cls(account_id, (USER,), second_factor=second_factor)

    @classmethod
    def peer(cls, node: str) -> Principal:
        """A federation peer node whose signature verified, e.g. `by`."""
        return cls(f"service:{node}", (SERVICE,))
