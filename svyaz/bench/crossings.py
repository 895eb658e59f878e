"""What happened to each cross-border message of one run of `svyaz bench federation`, and the run's
figures from it, overall and per region pair (pure: no trio, no drivers, no I/O).

A message goes from a sender in one region to a receiver in another, in a chat of its own pair
(`ru-kz`: sent on the ru node, received on the kz node). Times are readings of one process's
monotonic clock (`time.perf_counter`): lag = the receiver's push arrival - the start of the
sender's `message.send` call.

  lost          sent and acknowledged by the sender's node, not received within the grace period
  duplicate     a second push of one message to its receiver (at least once allows it; counted)
  out of order  received after a message of the same chat that the sender's node numbered later
                (each node numbers a chat itself, so the order is the sender node's `seq`, from
                the send's answer)
  misdelivered  pushed to a connection other than the message's receiver
  stray         a push of no message of this run (e.g. a late one of the run before)

Hops: where a message was seen on its way, when the bench watches the topics (`topicwatch`):
`event` (the sender node's own event, on its cluster), `outbox` (the record its forwarder produced
to `<prefix>outbox.<peer>`), `mirror` (MirrorMaker 2's copy on the receiver's cluster), `arrival`
(the receiver node's event for the applied message). The segments between consecutive stamps say
where the lag goes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from svyaz.bench.stats import Summary, summarize

# Error codes of the bench itself, besides the node's own (`rate_limited`, `not_published`, ...).
ACK_TIMEOUT = "ack_timeout"
CONNECTION_CLOSED = "connection_closed"
DROPPED_BY_CLIENT = "dropped_by_client"
LOST = "lost"

# The stamps a message may get on its way, in path order, and the segments between them.
HOPS = ("event", "outbox", "mirror", "arrival")
PATH = ("send", *HOPS, "push")
SEGMENTS = {
    "send->event": "the sender's node: the send call until its event is on the sender's Kafka",
    "event->outbox": "the forwarder: event consumed, numbered (federation store), sealed, produced",
    "outbox->mirror": "MirrorMaker 2: fetched from the sender's Kafka, produced to the receiver's",
    "mirror->arrival": "the inbound consumer: fetched, verified, ledger, applied (store), event produced",
    "arrival->push": "the receiver's gateway: live feed to the WebSocket push",
}


def parse_pairs(text: str, regions: Sequence[str]) -> tuple[str, ...]:
    """`"ru-kz,kz-ru"` -> ("ru-kz", "kz-ru"): known regions, different, each pair once."""
    pairs = tuple(part.strip() for part in text.split(",") if part.strip())
    if not pairs:
        raise ValueError("expected at least one pair like ru-kz")
    for pair in pairs:
        source, dash, target = pair.partition("-")
        if not dash or source not in regions or target not in regions:
            raise ValueError(f"{pair!r}: expected SOURCE-TARGET with regions among {','.join(regions)}")
        if source == target:
            raise ValueError(f"{pair!r}: a message within one region does not cross a border")
    if len(set(pairs)) != len(pairs):
        raise ValueError(f"a pair is listed twice in {text!r}")
    return pairs


def all_pairs(regions: Sequence[str]) -> tuple[str, ...]:
    return tuple(f"{a}-{b}" for a in regions for b in regions if a != b)


def pair_regions(pairs: Iterable[str]) -> tuple[str, ...]:
    """The regions the pairs need, in first-mention order."""
    seen: dict[str, None] = {}
    for pair in pairs:
        source, _, target = pair.partition("-")
        seen.setdefault(source)
        seen.setdefault(target)
    return tuple(seen)


@dataclass
class _Message:
    pair: str
    chat: int              # the chat (sender -> receiver connection pair) it was sent in
    measured: bool
    sent_at: float
    acked_at: float | None = None
    seq: int | None = None  # the sender node's number in the chat
    error: str | None = None
    received_at: float | None = None
    copies: int = 0
    hops: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PairFigures:
    scheduled: int                 # measured arrivals, dropped ones included
    sent: int                      # measured messages whose send call started
    acked: int
    received: int                  # measured messages their receiver got (once or more)
    lost: int                      # acked, never received within the grace
    errors: dict[str, int]         # refused or unanswered sends by code, drops, losses
    failed: int                    # the sum of errors
    duplicates: int
    out_of_order: int
    lag: Summary | None            # send call start -> receiver's push, ms
    ack: Summary | None            # send call start -> the send's answer, ms

    def as_dict(self) -> dict[str, Any]:
        plain = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("lag", "ack"):
            plain[name] = None if plain[name] is None else plain[name].as_dict()
        return plain


@dataclass(frozen=True)
class Figures:
    overall: PairFigures
    pairs: dict[str, PairFigures]
    send_rate: float               # send calls started inside the window, per second
    received_rate: float           # first pushes inside the window, per second
    dispatch_lag: Summary | None   # how late the bench started sends against its schedule, ms
    hops: dict[str, Summary]       # per segment (SEGMENTS), over measured received messages with both stamps
    hop_coverage: dict[str, int]   # measured received messages with each stamp
    misdelivered: int
    strays: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "pairs": {pair: figures.as_dict() for pair, figures in self.pairs.items()},
            "send_rate": round(self.send_rate, 2), "received_rate": round(self.received_rate, 2),
            "dispatch_lag": None if self.dispatch_lag is None else self.dispatch_lag.as_dict(),
            "hops": {name: summary.as_dict() for name, summary in self.hops.items()},
            "hop_coverage": dict(self.hop_coverage),
            "misdelivered": self.misdelivered, "strays": self.strays,
        }


class CrossingTally:
    def __init__(self) -> None:
        self._messages: dict[str, _Message] = {}
        self._dropped: Counter[str] = Counter()
        self._dispatch_lags: list[float] = []
        self._misdelivered = 0
        self._strays = 0

    def dropped(self, pair: str, *, measured: bool) -> None:
        """An arrival not sent: its sender already had the most sends in flight."""
        if measured:
            self._dropped[pair] += 1

    def sent(self, client_id: str, *, pair: str, chat: int, at: float, measured: bool, lag: float = 0.0) -> None:
        """The send call of `client_id` starts at `at`, `lag` seconds after its scheduled arrival."""
        if client_id in self._messages:
            raise ValueError(f"client id {client_id} sent twice")
        self._messages[client_id] = _Message(pair, chat, measured, at)
        if measured:
            self._dispatch_lags.append(max(lag, 0.0))

    def acked(self, client_id: str, at: float, seq: int | None) -> None:
        message = self._messages[client_id]
        message.acked_at, message.seq = at, seq

    def failed(self, client_id: str, code: str) -> None:
        self._messages[client_id].error = code

    def received(self, client_id: str, *, chat: int, at: float) -> None:
        """A `message.created` push for `client_id` reached the receiving connection of `chat` at `at`."""
        message = self._messages.get(client_id)
        if message is None:
            self._strays += 1
        elif message.chat != chat:
            self._misdelivered += 1
        else:
            message.copies += 1
            if message.received_at is None:
                message.received_at = at

    def hop(self, client_id: str, name: str, at: float) -> None:
        """`client_id` was seen at hop `name` (one of HOPS) at `at`; the first sighting counts."""
        if name not in HOPS:
            raise ValueError(f"unknown hop {name!r}")
        message = self._messages.get(client_id)
        if message is not None:
            message.hops.setdefault(name, at)

    def fastest(self, pair: str) -> float | None:
        """The smallest lag in seconds of a received message of `pair`, measured or not."""
        return min((m.received_at - m.sent_at for m in self._messages.values()
                    if m.pair == pair and m.received_at is not None), default=None)

    def awaiting(self) -> int:
        """Messages not refused that have not reached their receiver yet."""
        return sum(1 for m in self._messages.values() if m.received_at is None and m.error is None)

    def figures(self, window_start: float, window_end: float, pairs: Sequence[str]) -> Figures:
        span = max(window_end - window_start, 1e-9)
        inside = lambda at: at is not None and window_start <= at < window_end  # noqa: E731
        measured = [m for m in self._messages.values() if m.measured]
        late = _out_of_order(self._messages.values())
        per_pair = {pair: _pair_figures([m for m in measured if m.pair == pair], self._dropped[pair], late)
                    for pair in pairs}
        overall = _pair_figures(measured, sum(self._dropped.values()), late)
        received = [m for m in measured if m.received_at is not None]
        hops, coverage = {}, {name: sum(1 for m in received if name in m.hops) for name in HOPS}
        for name in SEGMENTS:
            start, end = name.split("->")
            summary = summarize([_stamp(m, end) - _stamp(m, start) for m in received
                                 if _stamp(m, start) is not None and _stamp(m, end) is not None])
            if summary is not None:
                hops[name] = summary
        return Figures(
            overall=overall, pairs=per_pair,
            send_rate=sum(1 for m in self._messages.values() if inside(m.sent_at)) / span,
            received_rate=sum(1 for m in self._messages.values() if inside(m.received_at)) / span,
            dispatch_lag=summarize(self._dispatch_lags), hops=hops, hop_coverage=coverage,
            misdelivered=self._misdelivered, strays=self._strays)


def _stamp(message: _Message, name: str) -> float | None:
    if name == "send":
        return message.sent_at
    if name == "push":
        return message.received_at
    return message.hops.get(name)


def _out_of_order(messages: Iterable[_Message]) -> set[int]:
    """ids of the messages received after a message of the same chat with a higher sender seq."""
    by_chat: dict[int, list[_Message]] = {}
    for message in messages:
        if message.received_at is not None and message.seq is not None:
            by_chat.setdefault(message.chat, []).append(message)
    late = set()
    for arrived in by_chat.values():
        highest = None
        for message in sorted(arrived, key=lambda m: m.received_at):
            if highest is not None and message.seq < highest:
                late.add(id(message))
            highest = message.seq if highest is None else max(highest, message.seq)
    return late


def _pair_figures(measured: list[_Message], dropped: int, late: set[int]) -> PairFigures:
    errors: Counter[str] = Counter(m.error for m in measured if m.error is not None)
    # Unanswered sends that arrived anyway are not failures: the message crossed.
    for message in measured:
        if message.error is not None and message.received_at is not None:
            errors[message.error] -= 1
    lost = sum(1 for m in measured if m.error is None and m.received_at is None)
    if lost:
        errors[LOST] = lost
    if dropped:
        errors[DROPPED_BY_CLIENT] = dropped
    errors = Counter({code: count for code, count in errors.items() if count > 0})
    received = [m for m in measured if m.received_at is not None]
    return PairFigures(
        scheduled=len(measured) + dropped, sent=len(measured),
        acked=sum(1 for m in measured if m.acked_at is not None), received=len(received), lost=lost,
        errors=dict(sorted(errors.items())), failed=sum(errors.values()),
        duplicates=sum(m.copies - 1 for m in received),
        out_of_order=sum(1 for m in received if id(m) in late),
        lag=summarize([m.received_at - m.sent_at for m in received]),
        ack=summarize([m.acked_at - m.sent_at for m in measured if m.acked_at is not None]),
    )


def slowest_segment(hops: dict[str, Summary]) -> str | None:
    """The segment with the largest mean: where most of the lag goes."""
    return max(hops, key=lambda name: hops[name].mean, default=None)
