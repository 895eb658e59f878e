"""The local stack behind `svyaz stack up|down|status|logs`.

Per region one Apache Kafka broker (KRaft, jars from Maven Central) and one FerretDB server
(built once with `go install`), plus one MirrorMaker 2 process that carries only `outbox.<peer>`
topics across borders. Everything lives under a state directory (default `.svyaz/`); downloads and
builds are cached under `~/.cache/svyaz` so a fresh clone reuses them.

May import svyaz.errors and the standard library, plus confluent-kafka and pymongo for health checks.
Nothing in svyaz.node imports this package: a node only knows addresses from its configuration.
"""
