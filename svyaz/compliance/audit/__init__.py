"""The tamper-evident audit log: every access decision and authentication event, hash-chained
with Streebog-256, checkpointed with the node's GOST R 34.10-2012 signature, and the checkpoints
anchored in a file outside the database (docs/audit.md).

`event` defines what is recorded and the `AuditSink` port every other package writes through;
`log.AuditLog` (opened with `log.open_audit_log`) is the sink the node wires in.

Imports: the standard library, `svyaz.errors`, `svyaz.regions`, `svyaz.gost` and this package.
The domain modules `canonical`, `chain`, `checkpoint`, `verify` and `anchors` are pure (no trio,
pymongo, subprocess, files); pymongo only in `store`, trio only in `log`; `svyaz.gost.signing` (key
files on disk) only in `keys`, `signer`, `rotation` and `cli`. tests/unit/compliance/test_layering.py
checks this.
"""
