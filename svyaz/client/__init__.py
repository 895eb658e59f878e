"""The client SDK: what the `svyaz` CLI, the chat TUI and the tests use to talk to a node.

  connection  one WebSocket connection: calls matched to results by id, server pushes on a channel
May import trio, trio-websocket, svyaz.errors and svyaz.regions; never svyaz.node (a client knows
the protocol, not the server's internals).
"""
