"""Messaging: private chats first (groups and channels build on the same pieces).

Domain modules (`ids`, `content`, `events`, `chatlist`, `sequence`, `errors`) are plain Python: no
trio, pymongo or confluent-kafka (tests/unit/messaging/test_layering.py holds them to it). The use
cases in `service` are async and talk to ports (`ports`); `store` (pymongo) and `bus` (Kafka) are
the adapters. May import svyaz.errors, svyaz.regions and svyaz.identity.accounts; never svyaz.node.
"""
