"""Federation between regional nodes over Kafka MirrorMaker 2 (issue 5; docs/federation.md).

The pure building blocks; the outbox producer, the inbound consumer and the node wiring come next.
Each module has one job:
  envelope   the signed federation event on the wire: fields, canonical encoding, encode/decode
             with strict validation, and `Signer` (the node's GOST R 34.10-2012 federation key)
  trust      pinned peer keys (rotation = two pinned keys), `PeerKeys.verify` -> VerifiedEvent
  ledger     inbound idempotence and per-(origin, stream) order: the pure `admit` state machine
             and the `LedgerStore` port it persists through
  residency  which regions store a conversation and which peers an event may be sent to
  mm2        the MirrorMaker 2 properties (only `outbox.<peer>` crosses); the dev stack uses it too
  keyfile    the node's federation key on disk (`node.key` 0600, `node.pub.pem`), made once
  lag        a bounded window of recent lags and its percentiles (the node's /federation)
  status     `svyaz federation status`: the nodes' /federation documents (urllib), one row per pair
  cli        `svyaz federation mm2-config | keygen | status`
  errors     `FederationError`, and `Refused` with its stable refusal codes

May import the standard library, `svyaz.errors`, `svyaz.regions`, `svyaz.gost`,
`svyaz.identity.accounts` (and `svyaz.identity.errors`) and `svyaz.federation`; never trio,
pymongo, bson or confluent_kafka (tests/unit/federation/test_layering.py). Adapters for Mongo and
Kafka will live beside the node, behind the ports defined here.
"""
