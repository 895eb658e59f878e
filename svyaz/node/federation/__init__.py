"""The node's federation adapters (issue 5; docs/federation.md): Kafka and Mongo behind the pure
ports of `svyaz.federation`, and the wiring of a regional node to its peers.
"""
