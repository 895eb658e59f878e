"""Labels of the stack's processes and the split of the node's CPU by thread role (pure parts)."""

from __future__ import annotations

import pytest

from svyaz.bench.procstat import ProcessSample, busiest, process_label, thread_group, thread_split


def test_stack_processes_are_labelled_by_service_and_region():
    kafka = ("/usr/bin/java -Xmx512m -cp /x/lib/* kafka.Kafka /work/main/.svyaz/by/kafka/server.properties")
    ferret = "/c/ferretdb-v1.24.2-svyaz1 --handler=sqlite --listen-addr=127.0.0.1:27317 --debug-addr=127.0.0.1:27318"
    mirror = "/usr/bin/java -cp /x/lib/* org.apache.kafka.connect.mirror.MirrorMaker /m/mm2.properties"
    assert process_label("java", kafka) == "kafka by"
    assert process_label("ferretdb-v1.24.", ferret) == "ferretdb kz"
    assert process_label("java", mirror) == "mirrormaker2"
    assert process_label("pytest", "/v/bin/python pytest") == "pytest"


def test_node_threads_are_grouped_by_role():
    assert thread_group("python", main=True).startswith("main")
    assert thread_group("rdk:broker1", main=False) == "librdkafka"
    assert thread_group("poll_until_stop", main=False) == thread_group("consume_until_s", main=False)
    assert thread_group("_insert from sv", main=False).startswith("worker threads")
    assert thread_group("Trio thread 4", main=False).startswith("worker threads")


def test_thread_split_counts_new_threads_whole_and_ended_threads_as_the_rest_of_the_total():
    before = {1: ("main", 10.0), 2: ("workers", 3.0), 3: ("workers", 1.0)}
    after = {1: ("main", 12.0), 2: ("workers", 3.5), 4: ("workers", 0.25)}  # 3 ended, 4 is new
    split = thread_split(before, after, total_s=3.25)
    assert split == pytest.approx({"main": 2.0, "workers": 0.75, "ended threads": 0.5})


def test_busiest_is_cores_per_label_over_the_window_with_known_pids_renamed():
    before = {1: ProcessSample("java", 100.0), 2: ProcessSample("python", 5.0), 3: ProcessSample("ferretdb ru", 1.0)}
    after = {1: ProcessSample("java", 110.0), 2: ProcessSample("python", 25.0), 3: ProcessSample("ferretdb ru", 1.0),
             4: ProcessSample("python", 2.0)}  # started inside the window
    assert busiest(before, after, seconds=20.0, names={2: "svyaz node"}) == {
        "svyaz node": 1.0, "java": 0.5, "python": 0.1}
