"""Opening TCP listeners, with an error that names the configuration key behind the address."""

from __future__ import annotations

import trio

from svyaz.node.errors import NodeError


async def open_listeners(host: str, port: int, *, key: str) -> list[trio.SocketListener]:
    """Listeners on host:port; an address in use or not local raises NodeError naming `key`."""
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except OSError as err:
        raise NodeError(
            f"{key}: cannot listen on {host}:{port} ({err.strerror or err})",
            hint=f"stop whatever holds the port, or choose another {key}",
        ) from err


def bound_port(listeners: list[trio.SocketListener]) -> int:
    """The port actually bound (the kernel's choice when the configured port is 0).

    A host name resolving to several addresses gives several listeners; with port 0 each has its own
    port, so configure an address, not a name, when asking for port 0.
    """
    return listeners[0].socket.getsockname()[1]
