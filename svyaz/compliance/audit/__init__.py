"""The tamper-evident audit log: every access decision and authentication event, hash-chained
with Streebog-256 and checkpointed with the node's GOST R 34.10-2012 signature.

`event` defines what is recorded and the `AuditSink` port every other package writes through.
"""
