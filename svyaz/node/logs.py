"""Structured logs on stderr: one JSON object per line (or `key=value` text for a terminal).

Each line carries ts, level, logger, msg, region and the record's `extra=` fields. Every string
goes through `redact_secrets`, and fields named like a secret are masked whatever their value,
so a URL with credentials or a token passed by mistake never reaches the log.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from svyaz.node.config import LogConfig
from svyaz.node.redact import MASK, is_secret_name, redact_secrets

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def record_fields(record: logging.LogRecord, region: str) -> dict[str, Any]:
    """The record as a flat dict, secrets removed: the common shape of both formats."""
    entry: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": redact_secrets(record.getMessage()),
        "region": region,
    }
    for key, value in vars(record).items():
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
            entry[key] = _clean(key, value)
    if record.exc_info:
        entry["exc"] = redact_secrets(logging.Formatter().formatException(record.exc_info))
    return entry


def _clean(key: str, value: Any) -> Any:
    if is_secret_name(key):
        return MASK
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_clean(key, item) for item in value]
    return redact_secrets(str(value))


class JsonFormatter(logging.Formatter):
    def __init__(self, region: str) -> None:
        super().__init__()
        self._region = region

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record, self._region), ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`ts level logger: msg key=value ...` for people reading a terminal."""

    def __init__(self, region: str) -> None:
        super().__init__()
        self._region = region

    def format(self, record: logging.LogRecord) -> str:
        entry = record_fields(record, self._region)
        head = f"{entry.pop('ts')} {entry.pop('level').upper():7} {entry.pop('logger')}: {entry.pop('msg')}"
        exc = entry.pop("exc", None)
        line = " ".join([head, *(f"{key}={json.dumps(value, default=str)}" for key, value in entry.items())])
        return f"{line}\n{exc}" if exc else line


def configure_logging(config: LogConfig, *, region: str, stream: TextIO = sys.stderr) -> None:
    """Send every logger's records to `stream` in the configured format, replacing earlier handlers."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(region) if config.format == "json" else TextFormatter(region))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(config.level)
