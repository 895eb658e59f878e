"""Benchmarks: against a real node, `svyaz bench latency` (send→receive latency of 1:1 text under
an open-loop load, with CPU and memory of the node it starts), `svyaz bench channel` and
`svyaz bench federation` (cross-border lag between federated nodes through MirrorMaker 2); in-process,
`svyaz bench crypto` (the GOST primitives next to `openssl speed` and gostcrypto).

  stats       percentiles and latency summaries (pure)
  schedule    the open-loop arrival schedule and the per-connection in-flight bound (pure)
  tally       what happened to each message of a run, and the run's figures (pure)
  verdict     whether a rate meets the latency objective, and the highest rate of a sweep (pure)
  crossings   what happened to each cross-border message: lag, lost, duplicates, order, hops (pure)
  procstat    CPU seconds, RSS and thread split of processes from /proc; the machine's load
  nodeproc    a node of the bench's own as a subprocess, isolated by name, and its clean-up
  fleet       accounts registered and signed in, one WebSocket each, pushes read continuously
  latency     one run (a rate, or a sweep of rates) over a fleet; `cli` adds `svyaz bench latency`
  topicwatch  a passive reader of the Kafka topics a cross-border message passes (hop stamps)
  federation  federated nodes per region, senders and receivers per pair, the lag per rate
  crypto      the GOST primitives' MB/s and ops/s beside `openssl speed -elapsed` and gostcrypto

May import trio, trio-websocket (through svyaz.client), pymongo and confluent-kafka (only to drop
what the bench's own nodes created, and to watch the topics they write), svyaz.errors,
svyaz.regions, svyaz.stack.topology and svyaz.client, and svyaz.gost and svyaz.e2e (which client
devices run). Never svyaz.node or the domain packages: the bench is a client of a node process, so
it measures what a client sees (federation keys are made by running `svyaz federation keygen`, as an
operator would). `stats`, `schedule`, `tally`, `verdict` and `crossings` stay pure (no trio, no
drivers, no I/O); tests/unit/bench/test_layering.py checks both rules.
"""
