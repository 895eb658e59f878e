"""JSON and text log lines, and that no secret reaches them."""

from __future__ import annotations

import io
import json
import logging

import pytest

from svyaz.node.config import LogConfig
from svyaz.node.logs import JsonFormatter, TextFormatter, configure_logging
from svyaz.node.redact import redact_secrets


def make_record(
    msg: str = "node ready", *args, level: int = logging.INFO, exc_info=None, **extra
) -> logging.LogRecord:
    record = logging.LogRecord("svyaz.node", level, __file__, 1, msg, args, exc_info)
    record.created = 1_700_000_000.123
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def as_json(record: logging.LogRecord) -> dict:
    line = JsonFormatter("ru").format(record)
    assert "\n" not in line  # one record, one line
    return json.loads(line)


def test_json_line_has_the_common_fields_and_extras():
    entry = as_json(make_record(gateway_port=8101, http_port=9101))
    assert entry == {
        "ts": "2023-11-14T22:13:20.123+00:00",
        "level": "info",
        "logger": "svyaz.node",
        "msg": "node ready",
        "region": "ru",
        "gateway_port": 8101,
        "http_port": 9101,
    }


def test_message_arguments_are_interpolated():
    assert as_json(make_record("probe took %.1f s", 0.25))["msg"] == "probe took 0.2 s"


def test_non_json_extras_become_text():
    entry = as_json(make_record(failing=("store", "kafka"), path=object()))
    assert entry["failing"] == ["store", "kafka"]
    assert entry["path"].startswith("<object object")


@pytest.mark.parametrize(
    "url",
    [
        "mongodb://svyaz:hunter2@db:27017/",
        "mongodb+srv://svyaz:hunter2@cluster.example/",
        "http://user:hunter2@proxy:3128",
    ],
)
def test_credentials_in_urls_are_masked_in_message_and_extras(url):
    entry = as_json(make_record("connecting to %s", url, store_url=url))
    for field in ("msg", "store_url"):
        assert "hunter2" not in entry[field]
        assert "svyaz:" not in entry[field] and "user:" not in entry[field]
        assert "://***@" in entry[field]


def test_urls_without_credentials_are_kept():
    assert (
        as_json(make_record(store_url="mongodb://127.0.0.1:27117/"))["store_url"]
        == "mongodb://127.0.0.1:27117/"
    )


def test_secret_named_fields_are_masked_whatever_their_value():
    entry = as_json(
        make_record(password="hunter2", api_key=12345, refresh_token="abc", sasl={"sasl.password": "x"})
    )
    assert entry["password"] == entry["api_key"] == entry["refresh_token"] == "***"
    assert entry["sasl"] == {"sasl.password": "***"}


def test_secret_assignments_in_text_are_masked():
    text = "connect failed: sasl.password=hunter2 tlsCertificateKeyFilePassword=pw2&x=1 token=abc"
    masked = redact_secrets(text)
    assert "hunter2" not in masked and "pw2" not in masked and "abc" not in masked
    assert "sasl.password=***" in masked and "&x=1" in masked


def test_exceptions_are_included_and_redacted():
    try:
        raise ConnectionError("refused by mongodb://svyaz:hunter2@db/")
    except ConnectionError:
        import sys

        entry = as_json(make_record("probe crashed", level=logging.ERROR, exc_info=sys.exc_info()))
    assert entry["level"] == "error"
    assert "ConnectionError" in entry["exc"]
    assert "hunter2" not in entry["exc"]


def test_text_format_reads_like_a_terminal_line():
    line = TextFormatter("ru").format(make_record(gateway_port=8101, store_url="mongodb://u:p@db/"))
    assert line == (
        '2023-11-14T22:13:20.123+00:00 INFO    svyaz.node: node ready region="ru" gateway_port=8101 '
        'store_url="mongodb://***@db/"'
    )


@pytest.fixture
def root_logger():
    """Restore the root logger that configure_logging rewires."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(("fmt", "formatter"), [("json", JsonFormatter), ("text", TextFormatter)])
def test_configure_logging_installs_one_handler(root_logger, fmt, formatter):
    stream = io.StringIO()
    configure_logging(LogConfig(level="WARNING", format=fmt), region="kz", stream=stream)
    assert len(root_logger.handlers) == 1
    assert isinstance(root_logger.handlers[0].formatter, formatter)
    logging.getLogger("svyaz.node.test").info("dropped below WARNING")
    logging.getLogger("svyaz.node.test").warning("kept")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "kept" in lines[0] and "kz" in lines[0]
