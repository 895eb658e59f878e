"""`svyaz federation status`: each node's `/federation` document, read over HTTP from its side port,
joined into one row per region pair (docs/federation.md, "Watching it").

`fetch` is the only I/O (urllib, one thread per node, a timeout each); `report`, `render_text`
and `as_json` are pure, so the formatting is tested without nodes. Whatever a node answers, or if it
does not, the result is a `NodeReport` with a state: never an exception.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from svyaz.federation.errors import FederationConfigError
from svyaz.regions import KNOWN_REGIONS, PORTS

PATH = "/federation"
MAX_BODY_BYTES = 1024 * 1024
OK, UNREACHABLE, FEDERATION_OFF, BAD_ANSWER = "ok", "unreachable", "federation_off", "bad_answer"
_REASON_CHARS = 200
# Side ports are on the operators' network: an http_proxy set for the internet must not carry these.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def default_nodes() -> list[str]:
    """The development side ports of every known region (`svyaz.regions.PORTS`)."""
    return [f"http://127.0.0.1:{PORTS[region].http}" for region in KNOWN_REGIONS]


def node_url(text: str) -> str:
    """`http://host:port` from `http://host:port[/]` or `host:port`; FederationConfigError otherwise."""
    url = text.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None or parts.path or parts.query:
        raise FederationConfigError(f"--node {text[:100]!r}: expected a side port as http://HOST:PORT",
                                    hint=f"e.g. --node http://127.0.0.1:{PORTS['ru'].http}")
    return url


@dataclass(frozen=True)
class NodeReport:
    """What one node answered: `state` ok (with its `status` document), unreachable, federation_off
    or bad_answer (with `error` saying why)."""

    url: str
    state: str
    status: Mapping[str, Any] | None = None
    error: str | None = None

    @property
    def region(self) -> str | None:
        return None if self.status is None else self.status["region"]

    @property
    def answered(self) -> bool:
        return self.state == OK


def fetch(url: str, *, timeout_s: float) -> NodeReport:
    """GET `<url>/federation`."""
    try:
        with _OPENER.open(url + PATH, timeout=timeout_s) as response:
            body = response.read(MAX_BODY_BYTES + 1)
    except urllib.error.HTTPError as err:
        return _refusal(url, err)
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return NodeReport(url, UNREACHABLE, error=f"no answer within {timeout_s:g} s")
        return NodeReport(url, UNREACHABLE, error=_short(str(getattr(reason, "strerror", None) or reason)))
    except (TimeoutError, socket.timeout):
        return NodeReport(url, UNREACHABLE, error=f"no answer within {timeout_s:g} s")
    except (OSError, ValueError, http.client.HTTPException) as err:  # reset mid-answer, not HTTP, ...
        return NodeReport(url, UNREACHABLE, error=_short(f"{type(err).__name__}: {err}"))
    if len(body) > MAX_BODY_BYTES:
        return NodeReport(url, BAD_ANSWER, error=f"the answer is over {MAX_BODY_BYTES} bytes")
    return parse(url, body)


def _refusal(url: str, err: urllib.error.HTTPError) -> NodeReport:
    try:
        body = json.loads(err.read(64 * 1024))
    except (OSError, ValueError):
        body = None
    if err.code == 404 and isinstance(body, dict) and body.get("error") == FEDERATION_OFF:
        return NodeReport(url, FEDERATION_OFF, error="federation is not enabled on this node")
    if err.code == 404:
        return NodeReport(url, BAD_ANSWER, error=f"HTTP 404 on {PATH}: not a Svyaz node's side port, or an older node")
    return NodeReport(url, BAD_ANSWER, error=f"HTTP {err.code} on {PATH}")


def parse(url: str, body: bytes) -> NodeReport:
    """A node's answer as a report; BAD_ANSWER unless it is a /federation document."""
    try:
        status = json.loads(body)
    except ValueError:
        return NodeReport(url, BAD_ANSWER, error=f"{PATH} did not answer JSON")
    problem = _shape_problem(status)
    if problem:
        return NodeReport(url, BAD_ANSWER, error=f"{PATH}: {problem}")
    return NodeReport(url, OK, status=status)


def _shape_problem(status: object) -> str | None:
    if not isinstance(status, dict):
        return "not a JSON object"
    if status.get("region") not in KNOWN_REGIONS:
        return f"region {str(status.get('region'))[:20]!r} is not a known region"
    peers = status.get("peers")
    if not isinstance(peers, dict):
        return "no peers object"
    for peer, entry in peers.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("inbound"), dict)
                and isinstance(entry.get("outbound"), dict) and isinstance(entry.get("key_ids"), list)):
            return f"peer {str(peer)[:20]!r} is not described as expected"
    if not isinstance(status.get("other_origins", {}), dict):
        return "other_origins is not an object"
    return None


def fetch_all(urls: Sequence[str], *, timeout_s: float) -> list[NodeReport]:
    """Every node at once (each within `timeout_s`), in the order given."""
    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=min(len(urls), 16), thread_name_prefix="federation-status") as pool:
        return list(pool.map(lambda url: fetch(url, timeout_s=timeout_s), urls))


# --- the report (pure) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One direction of a link. Outbound figures come from the origin's node, inbound ones from the
    destination's; None where that node did not answer (or has not seen the other yet)."""

    origin: str
    destination: str
    sent: int | None
    send_failures: int | None
    applied: int | None
    refused: Mapping[str, int] | None
    backlog: int | None
    last_lag_ms: int | None
    lag_ms: Mapping[str, int | None] | None
    last_applied_at: str | None
    last_sent_at: str | None

    def as_dict(self) -> dict[str, object]:
        return {"origin": self.origin, "destination": self.destination, "sent": self.sent,
                "send_failures": self.send_failures, "applied": self.applied,
                "refused": None if self.refused is None else dict(self.refused), "backlog": self.backlog,
                "last_lag_ms": self.last_lag_ms, "lag_ms": None if self.lag_ms is None else dict(self.lag_ms),
                "last_applied_at": self.last_applied_at, "last_sent_at": self.last_sent_at}


def _order(region: str) -> tuple[int, str]:
    return (KNOWN_REGIONS.index(region) if region in KNOWN_REGIONS else len(KNOWN_REGIONS), region)


def pairs(reports: Iterable[NodeReport]) -> list[Pair]:
    """One row per (origin, destination) that a node which answered knows of, origins in region order."""
    by_region = {report.region: report.status for report in reports if report.answered and report.status}
    links: set[tuple[str, str]] = set()
    for region, status in by_region.items():
        for peer in status["peers"]:
            links |= {(peer, region), (region, peer)}
        links |= {(origin, region) for origin in status.get("other_origins", {})}
    rows = []
    for origin, destination in sorted(links, key=lambda link: (_order(link[0]), _order(link[1]))):
        receiver, sender = by_region.get(destination), by_region.get(origin)
        inbound = _inbound(receiver, origin)
        outbound = (sender["peers"].get(destination) or {}).get("outbound") if sender else None
        lag = inbound.get("lag_ms") if inbound else None
        rows.append(Pair(
            origin=origin, destination=destination,
            sent=_int(outbound, "sent"), send_failures=_int(outbound, "failures"),
            applied=_int(inbound, "applied"),
            refused=_counts(inbound.get("refused")) if inbound else None,
            backlog=_int(inbound, "backlog"), last_lag_ms=_int(inbound, "last_lag_ms"),
            lag_ms={key: _int(lag, key) for key in ("p50", "p95", "p99")} if isinstance(lag, dict) else None,
            last_applied_at=_str(inbound, "last_applied_at"), last_sent_at=_str(outbound, "last_sent_at")))
    return rows


def _inbound(receiver: Mapping[str, Any] | None, origin: str) -> Mapping[str, Any] | None:
    if receiver is None:
        return None
    if origin in receiver["peers"]:
        return receiver["peers"][origin]["inbound"]
    inbound = receiver.get("other_origins", {}).get(origin)
    return inbound if isinstance(inbound, dict) else None


def _int(document: Mapping[str, Any] | None, key: str) -> int | None:
    value = None if document is None else document.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(document: Mapping[str, Any] | None, key: str) -> str | None:
    value = None if document is None else document.get(key)
    return value[:40] if isinstance(value, str) else None


def _counts(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {str(code)[:40]: count for code, count in sorted(value.items())
            if isinstance(count, int) and not isinstance(count, bool)}


def problems(reports: Sequence[NodeReport]) -> list[str]:
    """What the figures say is wrong, beyond nodes not answering: a peer pinned with keys that do
    not include the key it signs with now (its events are refused as unknown_key), and refusals."""
    found = []
    signing = {report.region: report.status.get("key_id") for report in reports if report.answered and report.status}
    for report in reports:
        if not report.answered or report.status is None:
            continue
        for peer, entry in report.status["peers"].items():
            key_id = signing.get(peer)
            if key_id and key_id not in entry["key_ids"]:
                found.append(f"{report.region} does not pin {peer}'s current key {str(key_id)[:20]} "
                             f"(pinned: {', '.join(str(k)[:20] for k in entry['key_ids']) or 'none'})")
    for pair in pairs(reports):
        if pair.refused:
            found.append(f"{pair.destination} refused {sum(pair.refused.values())} record(s) from {pair.origin}: "
                         f"{_codes(pair.refused)} (see its dead-letter topic and audit log)")
    return found


def as_json(reports: Sequence[NodeReport]) -> dict[str, object]:
    """The one object `--json` prints."""
    return {
        "ok": all(report.answered for report in reports),
        "nodes": [{"url": report.url, "state": report.state, "error": report.error, "region": report.region,
                   "key_id": None if report.status is None else report.status.get("key_id"),
                   "status": report.status}
                  for report in reports],
        "pairs": [pair.as_dict() for pair in pairs(reports)],
        "problems": problems(reports),
    }


def render_text(reports: Sequence[NodeReport]) -> str:
    """Nodes and their reachability, then one row per region pair. `?`: the node that knows the
    figure did not answer; `-`: nothing to show yet."""
    node_rows = [("NODE", "REGION", "KEY ID", "STATE")]
    for report in reports:
        state = report.state if report.error is None else f"{report.state}: {report.error}"
        node_rows.append((report.url, report.region or "-",
                          str(report.status.get("key_id") or "-") if report.status else "-", state))
    lines = _table(node_rows, right=())
    rows = pairs(reports)
    lines.append("")
    if rows:
        pair_rows = [("PAIR", "SENT", "FAILED", "APPLIED", "REFUSED", "BACKLOG", "LAG P50", "LAG P99",
                      "LAST LAG")]
        for pair in rows:
            pair_rows.append((
                f"{pair.origin} -> {pair.destination}", _count(pair.sent), _count(pair.send_failures),
                _count(pair.applied), _refused(pair.refused), _count(pair.backlog),
                _lag(pair.lag_ms and pair.lag_ms.get("p50"), known=pair.lag_ms is not None),
                _lag(pair.lag_ms and pair.lag_ms.get("p99"), known=pair.lag_ms is not None),
                _lag(pair.last_lag_ms, known=pair.applied is not None)))
        lines += _table(pair_rows, right=(1, 2, 3, 5, 6, 7, 8))
    else:
        lines.append("no region pairs: no node answered with its federation status")
    found = problems(reports)
    if found:
        lines.append("")
        lines += [f"! {problem}" for problem in found]
    return "\n".join(lines) + "\n"


def _table(rows: Sequence[Sequence[str]], *, right: Iterable[int]) -> list[str]:
    right = set(right)
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(width) if column in right else cell.ljust(width)
                 for column, (cell, width) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return lines


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def _codes(refused: Mapping[str, int]) -> str:
    return ", ".join(f"{code} {count}" for code, count in refused.items())


def _refused(refused: Mapping[str, int] | None) -> str:
    if refused is None:
        return "?"
    total = sum(refused.values())
    return str(total) if not total else f"{total} ({_codes(refused)})"


def _lag(ms: int | None, *, known: bool = True) -> str:
    if not known:
        return "?"
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _REASON_CHARS else text[:_REASON_CHARS - 3] + "..."
