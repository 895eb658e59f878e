"""Shared sample data for the workflow's unit tests: a moment, a deadline, actors, a legal basis."""

from __future__ import annotations

from svyaz.compliance.lawful.model import LegalBasis
from svyaz.compliance.lawful.workflow import Actor, node_actor

NOW = 1_800_000_000.0            # 2027-01-15
DEADLINE = NOW + 30 * 86_400
AUTHORITY = Actor("@fsb_moscow:ru", "authority")
OTHER_AUTHORITY = Actor("@mvd_tula:ru", "authority")
ALICE = Actor("@alice_officer:ru", "security_officer")
BORIS = Actor("@boris_officer:ru", "security_officer")
CAROL = Actor("@carol_officer:ru", "security_officer")
NODE_RU = node_actor("ru")
HASH = "ab" * 32
BASIS = LegalBasis("court_order", "3/12-2026", "2026-11-20", "Meshchansky District Court of Moscow", HASH)
