"""Stopping and starting one service of the stack by its name (the fault tests' handle on it)."""

import json
import os
from pathlib import Path

import pytest

from svyaz.errors import SvyazError
from svyaz.stack import probes
from svyaz.stack.manager import Stack, _port_hint, _port_was_taken
from svyaz.stack.probes import judge_mirror_flow
from svyaz.stack.process import ProcessRecord, ProcessTable
from svyaz.stack.services import FerretDB, KafkaBroker, MirrorMaker, Runtime

RUNTIME = Runtime(java="java", kafka_lib=Path("/lib"), log4j_config=Path("/log4j2.xml"), ferretdb=Path("/ferretdb"))


def test_a_regions_kafka_and_ferretdb_are_found_by_name_on_their_ports(tmp_path):
    stack = Stack(tmp_path, progress=lambda _: None)

    kafka, ferretdb = stack.service("kz/kafka", RUNTIME), stack.service("by/ferretdb", RUNTIME)

    assert isinstance(kafka, KafkaBroker) and (kafka.region, kafka.port) == ("kz", 30092)
    assert kafka.home == tmp_path / "kz" / "kafka"
    assert isinstance(ferretdb, FerretDB) and (ferretdb.region, ferretdb.port) == ("by", 27217)


def test_mirrormaker_starts_again_with_the_regions_it_mirrored(tmp_path):
    MirrorMaker(("ru", "kz"), tmp_path, RUNTIME).prepare()

    mirror = Stack(tmp_path, progress=lambda _: None).service("mirrormaker", RUNTIME)

    assert isinstance(mirror, MirrorMaker) and mirror.regions == ("ru", "kz")
    assert not mirror.config_changed()


@pytest.mark.parametrize("name", ["xx/kafka", "ru/zookeeper", "kafka", "mirrormaker"])
def test_a_name_that_is_no_service_of_the_stack_is_refused_with_a_hint(tmp_path, name):
    # "mirrormaker" too: without its configuration nobody knows which regions it mirrored.
    with pytest.raises(SvyazError) as caught:
        Stack(tmp_path, progress=lambda _: None).service(name, RUNTIME)

    assert caught.value.hint


def test_stopping_a_service_the_stack_never_recorded_is_refused(tmp_path):
    with pytest.raises(SvyazError, match="no service 'kz/kafka'"):
        Stack(tmp_path, progress=lambda _: None).stop_service("kz/kafka", crash=True)


def test_stopping_a_service_that_is_not_running_does_nothing_and_keeps_its_record(tmp_path):
    stack = Stack(tmp_path, progress=lambda _: None)
    # This very pid, with a start time it never had: a process that has gone (and the pid reused).
    gone = ProcessRecord(service="kz/kafka", pid=os.getpid(), start_ticks=-1, argv=["java"], log="kz/kafka.log")
    stack.table.put(gone)

    assert stack.stop_service("kz/kafka", crash=True) is False
    assert stack.table.load() == {"kz/kafka": gone}


def _status(state: str) -> str:
    return json.dumps({"state": state, "trace": None, "worker_id": "localhost/ru->kz/1", "generation": 3})


def test_a_mirror_flow_is_healthy_when_its_connector_and_tasks_run():
    statuses = {"status-connector-MirrorSourceConnector": (1_000, _status("RUNNING")),
                "status-task-MirrorSourceConnector-0": (1_001, _status("RUNNING")),
                "status-topic-t1.outbox.kz:connector-MirrorSourceConnector": (1_002, '{"topic": {}}')}

    assert judge_mirror_flow(statuses) == (True, "connector RUNNING, tasks ['RUNNING']")
    statuses["status-task-MirrorSourceConnector-0"] = (1_003, _status("UNASSIGNED"))
    assert judge_mirror_flow(statuses)[0] is False


def test_a_killed_mirrormakers_last_running_does_not_vouch_for_its_successor():
    # SIGKILLed at 5 s, it never wrote that it stopped; its successor started at 9 s.
    statuses = {"status-connector-MirrorSourceConnector": (4_000, _status("RUNNING")),
                "status-task-MirrorSourceConnector-0": (4_100, _status("RUNNING"))}

    assert judge_mirror_flow(statuses, since_ms=0)[0] is True
    healthy, detail = judge_mirror_flow(statuses, since_ms=9_000)
    assert healthy is False and "not reported by this process yet" in detail
    statuses["status-connector-MirrorSourceConnector"] = (12_000, _status("RUNNING"))
    assert judge_mirror_flow(statuses, since_ms=9_000)[0] is False  # its task not yet
    statuses["status-task-MirrorSourceConnector-0"] = (12_500, _status("RUNNING"))
    assert judge_mirror_flow(statuses, since_ms=9_000)[0] is True


def test_the_process_table_keeps_when_each_service_was_started(tmp_path):
    table = ProcessTable(tmp_path / "processes.json")
    table.put(ProcessRecord(service="mirrormaker", pid=1, start_ticks=2, argv=[], log="", started_at=1_700_000_000.5))
    # A table written before start times were kept still loads: such a record vouches for any status.
    (tmp_path / "old.json").write_text(json.dumps({"ru/kafka": {"service": "ru/kafka", "pid": 1, "start_ticks": 2,
                                                                "argv": [], "log": ""}}))

    assert table.load()["mirrormaker"].started_at == 1_700_000_000.5
    assert ProcessTable(tmp_path / "old.json").load()["ru/kafka"].started_at == 0.0


def test_only_the_latest_start_of_a_service_is_searched_for_a_port_taken(tmp_path):
    log = tmp_path / "kafka.log"
    log.write_text("=== svyaz: starting kz/kafka at 2026-11-28T15:37:41 ===\n"
                   "java.net.BindException: Address already in use\n")
    assert _port_was_taken(log)
    log.write_text(log.read_text() + "\n=== svyaz: starting kz/kafka at 2026-11-28T15:42:02 ===\n"
                   "ERROR Exiting Kafka due to fatal exception: log directory is not writable\n")
    assert not _port_was_taken(log)
    assert not _port_was_taken(tmp_path / "never-written.log")


def test_a_held_port_inside_the_ephemeral_range_is_named_with_the_sysctl_that_reserves_it(monkeypatch):
    monkeypatch.setattr(probes, "ephemeral_range", lambda: (32768, 60999))

    assert "net.ipv4.ip_local_reserved_ports=39092,39093" in _port_hint([39092, 39093])
    assert "ss -tanp 'sport = :19092'" in _port_hint([19092]) and "sysctl" not in _port_hint([19092])
