"""Svyaz: a federated, compliance-centric messenger (one node per country).

Subpackages, each with one job:
  stack       local development stack (Kafka, FerretDB, MirrorMaker 2) under `.svyaz/`
  node        the regional node: service tree, gateway, health, metrics
  gost        GOST cryptography through the system OpenSSL and Debian's GOST provider
  federation, compliance, rbac, backup, tui: later capabilities (see docs/)
"""

__version__ = "0.1.0"
