"""What the channel bench counts per post: when it was sent and acknowledged, and when each online
subscriber's connection had it (wall-clock times: the subscribers are other processes). Pure
bookkeeping, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from svyaz.bench.stats import summarize


@dataclass
class PostTally:
    seq: int | None = None
    sent_at: float = 0.0                      # time.time() just before the post call left
    acked_at: float | None = None
    received: dict[int, float] = field(default_factory=dict)   # subscriber index -> time.time()


class FanoutTally:
    """Posts of one channel and the subscribers (by index) that are expected to receive them."""

    def __init__(self, channel: str, expected: int) -> None:
        self.channel = channel
        self.expected = expected
        self.posts: list[PostTally] = []
        self._by_seq: dict[int, PostTally] = {}
        self.unmatched = 0     # posts of this channel seen before their ack named their seq

    def sending(self, at: float) -> PostTally:
        post = PostTally(sent_at=at)
        self.posts.append(post)
        return post

    def acked(self, post: PostTally, seq: int, at: float) -> None:
        post.seq, post.acked_at = seq, at
        self._by_seq[seq] = post

    def arrived(self, subscriber: int, seq: int, at: float) -> None:
        """Post `seq` reached subscriber `subscriber` at `at` (the same clock as `sending`)."""
        post = self._by_seq.get(seq)
        if post is None:
            # The event can overtake the ack on the owner's connection; the subscriber's arrival time
            # is still right, so keep it under the post sent last.
            if not self.posts:
                return
            self.unmatched += 1
            post = self.posts[-1]
        post.received.setdefault(subscriber, at)

    def complete(self, post: PostTally) -> bool:
        return len(post.received) >= self.expected

    def figures(self, post: PostTally) -> dict[str, Any]:
        delays = [at - post.sent_at for at in post.received.values()]
        summary = summarize(delays)
        return {
            "seq": post.seq,
            "ack_ms": None if post.acked_at is None else round(1000 * (post.acked_at - post.sent_at), 1),
            "received": len(post.received),
            "expected": self.expected,
            "missing": self.expected - len(post.received),
            "delivery_ms": summary.as_dict() if summary else None,
        }

    def overall(self, seqs: set[int]) -> dict[str, Any] | None:
        """Percentiles over every (post, subscriber) delivery of the posts `seqs`."""
        delays = [at - post.sent_at for post in self.posts if post.seq in seqs for at in post.received.values()]
        summary = summarize(delays)
        return summary.as_dict() if summary else None
