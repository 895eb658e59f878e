"""Messaging: private chats, groups, channels with comment threads, blocks, reports, presence and
offline pushes.

Domain modules (`ids`, `content`, `events`, `chatlist`, `paging`, `model`, `safety`, `errors`)
are plain Python: no trio, pymongo or confluent-kafka (tests/unit/messaging/test_layering.py holds
them to it). The use cases (`service` private chats, `groups`, `channels`, `overview` the chat
list, `moderation`, `notifier`, `projector`, with `writer` for sequence numbers) are async and talk
to ports (`ports`); `store`, `safety_store` (pymongo) and `bus` (Kafka) are the adapters. May
import svyaz.errors, svyaz.regions and svyaz.identity.accounts/errors; never svyaz.node.
"""
