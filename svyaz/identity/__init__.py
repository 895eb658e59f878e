"""Identity and access: accounts, passwords, TOTP, recovery codes, brute-force throttling, sessions
and the access/refresh token pair (issue "Identity and access"). Credentials, the second factor and
sessions only: roles are svyaz.rbac's role assignments, read through a port (docs/identity.md).

Pure modules (no trio, pymongo or bson; unit-tested in milliseconds), each with one job:
  accounts   `@name:region` ids
  passwords  PBKDF2-HMAC-Streebog-512 hashes and the password policy
  totp       RFC 6238 codes: enrolment, verification with replay protection, a terminal QR code
  recovery   one-time recovery codes, stored as HMAC-Streebog-256 values
  throttle   the brute-force policy: allow, or refuse with a retry-after
  tokens     signed access tokens and rotating refresh-token families (RFC 9700 section 4.14)
  ports      the record types and the `IdentityStorePort` the service depends on
  service    the use cases (register, login, refresh, logout, 2FA), composed over the port
  errors     `IdentityError` and its stable codes

Adapter: `store` (pymongo, blocking) implements the port over the region's core database.
May import the standard library, pyotp, qrcode, `svyaz.errors`, `svyaz.regions`, `svyaz.gost`,
and of svyaz.rbac only the pure `svyaz.rbac.roles` (for `ROLES_REQUIRING_2FA`, defined once);
only `store` may import pymongo/bson. Nothing here imports trio: callers run the blocking
service and store in `trio.to_thread.run_sync`.
"""
