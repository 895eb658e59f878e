"""The node's error root and its stable codes.

Everything the node raises on purpose derives NodeError. Frame errors are the gateway protocol's
recoverable errors: `frames.error_frame` turns them into wire frames, and nothing else does.
"""

from __future__ import annotations

from svyaz.errors import SvyazError


class NodeError(SvyazError):
    code = "node_error"


class ConfigError(NodeError):
    """A configuration value is missing, malformed or unknown; the message names the key and its source."""

    code = "config_error"


class DependencyUnavailable(NodeError):
    """The store or Kafka did not answer a probe; the message is the driver's reason, secrets removed."""

    code = "dependency_unavailable"


class FrameError(NodeError):
    """A client frame the gateway cannot act on; the connection stays open."""

    code = "bad_frame"

    def __init__(self, message: str, *, request_id: object = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class BinaryFrame(FrameError):
    code = "binary_frame"


class MalformedJson(FrameError):
    code = "malformed_json"


class NotAnObject(FrameError):
    code = "not_an_object"


class UnknownType(FrameError):
    code = "unknown_type"


class InvalidField(FrameError):
    code = "invalid_field"
