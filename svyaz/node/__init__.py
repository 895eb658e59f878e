"""The regional node: one process that serves clients over WebSocket and reports its own health.

  config      typed settings per section, from defaults, a TOML file, SVYAZ_ variables and flags
  logs        JSON (or text) log lines with secrets masked (`redact`)
  ports       the Probe port; `store` (pymongo) and `events` (confluent-kafka) adapt to it
  readiness   pure readiness model; `health` probes the dependencies and keeps it current
  http        the side port: /healthz, /readyz, /metrics (`metrics` holds the collectors)
  frames      the pure wire protocol; `gateway` serves it over trio-websocket
  service     the service tree and graceful shutdown; `cli` adds `svyaz node serve`
  errors      NodeError and its codes; `listen` binds ports with errors naming the key
  api         the one path from a `call` frame to a handler, through the RBAC guard
  handlers/   the use cases behind each action, over the identity, rbac, audit and messaging packages
  session_sweeper  ends connections of revoked sessions, one store query per interval
  messaging   composes svyaz.messaging; `delivery` pushes live events to the connections held here

May import: trio, trio-websocket, h11, pymongo, confluent-kafka, prometheus_client, svyaz.errors,
svyaz.regions, svyaz.gost, and the domain packages it composes: svyaz.identity, svyaz.rbac,
svyaz.compliance, svyaz.messaging and svyaz.federation (whose adapters live in `federation/`).
Never svyaz.stack: the node runs on an operator's machines, where the development stack does not
exist. `config`, `errors`, `frames`, `readiness` and `redact` stay pure
(no trio, no drivers) so they test in milliseconds; tests/unit/node/test_layering.py checks both rules.
"""
