"""The errors of secret chats: one root; none ever quotes key material or plaintext."""

from __future__ import annotations

from svyaz.errors import SvyazError


class SecretChatError(SvyazError):
    code = "secret_chat_error"


class MalformedEnvelope(SecretChatError):
    """Bytes that are not a secret-chat envelope of a version this client reads."""

    code = "secret_malformed_envelope"


class BadBundle(SecretChatError):
    """A prekey bundle with a wrong size, an invalid point or a signed prekey its identity did not sign."""

    code = "secret_bad_bundle"


class UndecryptableMessage(SecretChatError):
    """Tampered, sent under another session, or its key is gone (already read, or too old)."""

    code = "secret_undecryptable"


class ReplayedMessage(UndecryptableMessage):
    """A message whose key was used and deleted already: a replay or a duplicate."""

    code = "secret_replayed"
