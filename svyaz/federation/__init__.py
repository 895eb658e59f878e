"""Federation between regional nodes over Kafka MirrorMaker 2 (issue: federation).

Today only the stack's MirrorMaker 2 allow-list (`svyaz.stack.mirrormaker`) exists; the signed
inbound/outbound event pipeline lands here. May import svyaz.gost and svyaz.node ports, never drivers.
"""
