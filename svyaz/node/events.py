"""The Kafka adapter (confluent-kafka). This slice only asks for cluster metadata, for readiness.

confluent-kafka blocks, so the request runs in a worker thread; a probe that times out abandons
the thread, which ends on librdkafka's own `timeout` instead of holding shutdown up.
"""

from __future__ import annotations

import logging

import trio
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from svyaz.node.config import KafkaConfig
from svyaz.node.errors import DependencyUnavailable, NodeError
from svyaz.node.redact import redact_secrets

# librdkafka reports every reconnect attempt at ERROR (several a second while a broker is down);
# the health monitor already reports the outage once, so only critical driver messages pass.
_LIBRDKAFKA_LOG_LEVEL = 2

logger = logging.getLogger("svyaz.node.kafka")


class KafkaEventBusProbe:
    """The Kafka `ports.Probe`: an AdminClient metadata answer means the cluster is up."""

    def __init__(self, config: KafkaConfig, *, client_id: str) -> None:
        self._timeout_s = config.timeout_s
        # One metadata request at a time: a new probe waits for an abandoned one to finish rather
        # than piling threads up while the broker is unreachable.
        self._limiter = trio.CapacityLimiter(1)
        try:
            self._admin = AdminClient(
                {
                    "bootstrap.servers": config.bootstrap_servers,
                    "client.id": client_id,
                    # Driver logs go through our JSON logging rather than straight to stderr.
                    "logger": logger,
                    "log_level": _LIBRDKAFKA_LOG_LEVEL,
                }
            )
        except KafkaException as err:
            raise NodeError(
                f"kafka.bootstrap_servers cannot be used: {_describe(err)}",
                hint="fix kafka.bootstrap_servers (or SVYAZ_KAFKA__BOOTSTRAP_SERVERS, --kafka)",
            ) from err

    async def check(self) -> None:
        try:
            await trio.to_thread.run_sync(self._list_topics, limiter=self._limiter, abandon_on_cancel=True)
        except KafkaException as err:
            raise DependencyUnavailable(f"kafka: {_describe(err)}") from err

    def _list_topics(self) -> None:
        try:
            self._admin.list_topics(timeout=self._timeout_s)
        finally:
            # Hands queued driver log lines to `logger`; unserved, they would pile up in memory.
            self._admin.poll(0)


def _describe(err: KafkaException) -> str:
    # str(err) wraps the reason in `KafkaError{code=...,str="..."}`; the reason alone reads better.
    reason = err.args[0].str() if err.args and isinstance(err.args[0], KafkaError) else str(err)
    return redact_secrets(reason)
