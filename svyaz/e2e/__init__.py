"""Secret chats: end-to-end encryption with GOST, done entirely on the users' devices.

The node only stores and relays what this package produces: public prekey bundles and sealed
envelopes. Here: device keys and prekey bundles (`prekeys`), session set-up by VKO in the manner of
X3DH (`handshake`), per-message keys from a symmetric ratchet (`ratchet`), the envelope on the
wire (`envelope`), a session that seals and opens messages (`session`), small-group chats by
sender keys handed out over 1:1 sessions (`group`), and the safety number two people compare
(`safety`). docs/secret-chats.md describes the protocol.

May import only the standard library, `svyaz.errors` and `svyaz.gost`: no I/O, no trio.
"""
