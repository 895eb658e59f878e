"""`svyaz federation status`: reading the nodes' answers and printing them (svyaz.federation.status).
The nodes are stand-ins here (documents and `fetch` replaced); tests/integration/federation/test_status.py
runs it against three real nodes."""

from __future__ import annotations

import json

import pytest

from svyaz.cli import build_parser, main
from svyaz.federation import status
from svyaz.federation.errors import FederationConfigError
from svyaz.federation.status import NodeReport, as_json, node_url, pairs, parse, render_text


def inbound(applied=0, refused=None, lags=(None, None, None), backlog=0, last_lag_ms=None, samples=0):
    return {"applied": applied, "refused": refused or {}, "last_lag_ms": last_lag_ms,
            "lag_ms": {"p50": lags[0], "p95": lags[1], "p99": lags[2], "samples": samples},
            "backlog": backlog, "last_applied_at": "2026-11-28T03:04:07.864+00:00" if applied else None}


def outbound(sent=0, failures=0):
    return {"sent": sent, "failures": failures,
            "last_sent_at": "2026-11-28T03:04:07.800+00:00" if sent else None, "last_delay_ms": 12 if sent else None}


def document(region, key_id, peers, other_origins=None):
    return {"region": region, "key_id": key_id, "at": "2026-11-28T03:04:08.000+00:00", "lag_window": 1000,
            "peers": {peer: {"key_ids": key_ids, "inbound": into, "outbound": out}
                      for peer, (key_ids, into, out) in peers.items()},
            "other_origins": other_origins or {}}


RU = document("ru", "1111aaaa1111aaaa", {
    "by": (["2222bbbb2222bbbb"], inbound(), outbound()),
    "kz": (["3333cccc3333cccc"], inbound(applied=3, lags=(41, 90, 1310), last_lag_ms=38, samples=3,
                                         refused={"malformed": 1}), outbound(sent=5, failures=1)),
})
KZ = document("kz", "3333cccc3333cccc", {
    "ru": (["1111aaaa1111aaaa"], inbound(applied=5, lags=(35, 40, 62), last_lag_ms=35, backlog=2, samples=5),
           outbound(sent=3)),
    "by": (["2222bbbb2222bbbb"], inbound(), outbound()),
})


def ok(url, doc):
    return NodeReport(url, status.OK, status=doc)


REPORTS = [ok("http://127.0.0.1:9101", RU),
           NodeReport("http://127.0.0.1:9102", status.UNREACHABLE, error="Connection refused"),
           ok("http://127.0.0.1:9103", KZ)]


def test_the_text_shows_the_nodes_then_one_row_per_pair():
    assert render_text(REPORTS) == """\
NODE                   REGION  KEY ID            STATE
http://127.0.0.1:9101  ru      1111aaaa1111aaaa  ok
http://127.0.0.1:9102  -       -                 unreachable: Connection refused
http://127.0.0.1:9103  kz      3333cccc3333cccc  ok

PAIR      SENT  FAILED  APPLIED  REFUSED          BACKLOG  LAG P50  LAG P99  LAST LAG
ru -> by     0       0        ?  ?                      ?        ?        ?         ?
ru -> kz     5       1        5  0                      2    35 ms    62 ms     35 ms
by -> ru     ?       ?        0  0                      0        -        -         -
by -> kz     ?       ?        0  0                      0        -        -         -
kz -> ru     3       0        3  1 (malformed 1)        0    41 ms    1.3 s     38 ms
kz -> by     0       0        ?  ?                      ?        ?        ?         ?

! ru refused 1 record(s) from kz: malformed 1 (see its dead-letter topic and audit log)
"""


def test_the_json_is_one_object_with_the_nodes_and_the_pairs():
    report = as_json(REPORTS)

    json.dumps(report)
    assert report["ok"] is False
    assert [(node["region"], node["state"], node["key_id"]) for node in report["nodes"]] == [
        ("ru", "ok", "1111aaaa1111aaaa"), (None, "unreachable", None), ("kz", "ok", "3333cccc3333cccc")]
    assert report["nodes"][0]["status"] == RU
    assert report["nodes"][1]["error"] == "Connection refused"
    kz_to_ru = next(pair for pair in report["pairs"] if (pair["origin"], pair["destination"]) == ("kz", "ru"))
    assert kz_to_ru == {"origin": "kz", "destination": "ru", "sent": 3, "send_failures": 0, "applied": 3,
                        "refused": {"malformed": 1}, "backlog": 0, "last_lag_ms": 38,
                        "lag_ms": {"p50": 41, "p95": 90, "p99": 1310},
                        "last_applied_at": "2026-11-28T03:04:07.864+00:00",
                        "last_sent_at": "2026-11-28T03:04:07.800+00:00"}
    assert as_json([REPORTS[0], REPORTS[2]])["ok"] is True


def test_a_key_a_peer_does_not_pin_is_pointed_out():
    rotated = {**KZ, "key_id": "4444dddd4444dddd"}
    found = status.problems([ok("http://a:1", RU), ok("http://b:2", rotated)])
    assert "ru does not pin kz's current key 4444dddd4444dddd (pinned: 3333cccc3333cccc)" in found


def test_records_from_origins_not_pinned_get_their_own_row():
    doc = document("ru", "k", {}, other_origins={"unknown": inbound(refused={"malformed": 2})})
    (row,) = pairs([ok("http://a:1", doc)])
    assert (row.origin, row.destination, row.sent, row.refused) == ("unknown", "ru", None, {"malformed": 2})


def test_no_answer_at_all_is_said_plainly():
    text = render_text([NodeReport("http://127.0.0.1:9101", status.UNREACHABLE, error="no answer within 3 s")])
    assert "unreachable: no answer within 3 s" in text
    assert "no region pairs: no node answered with its federation status" in text


@pytest.mark.parametrize(("body", "error"), [
    (b"<html>", "did not answer JSON"),
    (b"[]", "not a JSON object"),
    (b'{"region": "xx", "peers": {}}', "region 'xx' is not a known region"),
    (b'{"region": "ru"}', "no peers object"),
    (b'{"region": "ru", "peers": {"kz": {"inbound": {}}}}', "peer 'kz' is not described as expected"),
])
def test_an_answer_that_is_not_a_federation_document_is_a_bad_answer(body, error):
    report = parse("http://a:1", body)
    assert (report.state, report.answered) == (status.BAD_ANSWER, False)
    assert error in report.error
    render_text([report])  # and it still prints


@pytest.mark.parametrize(("text", "url"), [
    ("http://127.0.0.1:9101", "http://127.0.0.1:9101"),
    ("http://127.0.0.1:9101/", "http://127.0.0.1:9101"),
    ("127.0.0.1:9101", "http://127.0.0.1:9101"),
    ("https://ru.example:443", "https://ru.example:443"),
])
def test_node_urls(text, url):
    assert node_url(text) == url


@pytest.mark.parametrize("text", ["ftp://a:1", "http://a", "http://a:1/metrics", "http://:1", "a:b"])
def test_a_bad_node_url_is_a_reportable_error(text):
    with pytest.raises(FederationConfigError, match="expected a side port as http://HOST:PORT"):
        node_url(text)


def test_the_defaults_are_the_development_side_ports():
    assert status.default_nodes() == ["http://127.0.0.1:9101", "http://127.0.0.1:9102", "http://127.0.0.1:9103"]


@pytest.fixture
def answers(monkeypatch):
    """`fetch` answering from a table instead of the network."""
    table: dict[str, NodeReport] = {}

    def fetch(url, *, timeout_s):
        return table.get(url) or NodeReport(url, status.UNREACHABLE, error="Connection refused")

    monkeypatch.setattr(status, "fetch", fetch)
    return table


def test_the_command_exits_0_when_every_node_answered(answers, capsys):
    answers["http://127.0.0.1:9101"] = ok("http://127.0.0.1:9101", RU)
    answers["http://127.0.0.1:9103"] = ok("http://127.0.0.1:9103", KZ)

    code = main(["federation", "status", "--json", "--node", "127.0.0.1:9101", "--node", "http://127.0.0.1:9103/"])

    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["ok"] is True and [node["region"] for node in printed["nodes"]] == ["ru", "kz"]


def test_the_command_exits_1_naming_the_node_that_did_not_answer(answers, capsys):
    answers["http://127.0.0.1:9101"] = ok("http://127.0.0.1:9101", RU)

    code = main(["federation", "status"])  # the three development ports

    out, err = capsys.readouterr()
    assert code == 1 and not err
    assert "http://127.0.0.1:9102  -       -                 unreachable: Connection refused" in out


def test_a_node_without_federation_counts_as_not_answering(answers, capsys):
    answers["http://127.0.0.1:9101"] = NodeReport("http://127.0.0.1:9101", status.FEDERATION_OFF,
                                                  error="federation is not enabled on this node")

    assert main(["federation", "status", "--node", "http://127.0.0.1:9101"]) == 1
    assert "federation_off: federation is not enabled on this node" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--node", "ftp://x:1"], "--node 'ftp://x:1': expected a side port"),
    (["--timeout", "0"], "--timeout 0: expected more than 0"),
])
def test_bad_arguments_are_reportable_errors(argv, message):
    args = build_parser().parse_args(["federation", "status", *argv])
    with pytest.raises(FederationConfigError, match=message):
        args.handler(args)
    assert main(["federation", "status", *argv]) == 1
