"""The client SDK: what the `svyaz` CLI, the chat TUI and the tests use to talk to a node.

  connection  one WebSocket connection: calls matched to results by id, server pushes on a channel
  accounts    the accounts of this device and their tokens (OS keyring or a GOST-sealed file)
  session     a connection as one of those accounts
  messaging   the Messenger: sending with safe resends, history, chats, live events de-duplicated
  cli, chat_cli  the scriptable `svyaz account|login|2fa|sessions|role` and `send|listen|history|...`
May import trio, trio-websocket, svyaz.errors and svyaz.regions; never svyaz.node (a client knows
the protocol, not the server's internals).
"""
