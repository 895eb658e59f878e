"""Messaging: private chats, groups, channels with comment threads, blocks, reports, presence and
offline pushes.

Domain modules (`ids`, `content`, `events`, `chatlist`, `paging`, `model`, `safety`, `errors`,
`at_rest` the fields sealed at rest, `secret_policy` a region's secret-chat policy)
are plain Python: no trio, pymongo or confluent-kafka (tests/unit/messaging/test_layering.py holds
them to it). The use cases (`service` private chats, `groups`, `channels`, `overview` the chat
list, `moderation`, `notifier`, `projector`, with `writer` for sequence numbers) are async and talk
to ports (`ports`); `store`, `safety_store`, `prekey_store` (pymongo) and `bus` (Kafka) are the
adapters. Secret chats (`prekeys`, and sealed messages in `service`) relay what svyaz.e2e makes on
devices; the node never holds their keys. May import svyaz.errors, svyaz.regions,
svyaz.identity.accounts/errors, svyaz.e2e (pure, for checking bundles and envelopes) and svyaz.gost
(the escrow key of a region's policy); never svyaz.node.
"""
