"""The readiness model: states, `since`, and which probe results are transitions worth a log line."""

from __future__ import annotations

from svyaz.node.readiness import NOT_PROBED, Readiness, State, record_probe


def start() -> Readiness:
    return Readiness.unknown(["store", "kafka"], now=100.0)


def test_a_starting_node_is_not_ready_and_says_why():
    readiness = start()
    assert not readiness.ready
    assert readiness.failing() == ["store", "kafka"]
    for status in readiness.dependencies.values():
        assert (status.state, status.error, status.since) == (State.UNKNOWN, NOT_PROBED, 100.0)


def test_ready_only_when_every_dependency_answered():
    outcome = record_probe(start(), "store", error=None, now=101.0)
    assert outcome.dependency_changed and not outcome.readiness_changed
    assert not outcome.readiness.ready
    assert outcome.readiness.failing() == ["kafka"]

    outcome = record_probe(outcome.readiness, "kafka", error=None, now=102.0)
    assert outcome.dependency_changed and outcome.readiness_changed
    assert outcome.readiness.ready
    assert outcome.readiness.dependencies["kafka"].since == 102.0


def test_first_failure_is_a_change_so_it_gets_logged():
    outcome = record_probe(start(), "kafka", error="kafka: refused", now=101.0)
    assert outcome.dependency_changed
    assert not outcome.readiness_changed  # the node was not ready before either
    status = outcome.readiness.dependencies["kafka"]
    assert (status.state, status.error, status.since) == (State.DOWN, "kafka: refused", 101.0)


def test_going_down_and_back_up_are_each_one_transition():
    readiness = start()
    for name in ("store", "kafka"):
        readiness = record_probe(readiness, name, error=None, now=101.0).readiness

    down = record_probe(readiness, "store", error="store: refused", now=110.0)
    assert down.dependency_changed and down.readiness_changed and not down.readiness.ready

    still_down = record_probe(down.readiness, "store", error="store: timed out", now=111.0)
    assert not still_down.dependency_changed and not still_down.readiness_changed
    status = still_down.readiness.dependencies["store"]
    assert status.error == "store: timed out"  # the latest reason is shown...
    assert status.since == 110.0  # ...but it has been down since the first failure

    up = record_probe(still_down.readiness, "store", error=None, now=120.0)
    assert up.dependency_changed and up.readiness_changed and up.readiness.ready
    assert up.readiness.dependencies["store"].error is None
    assert up.readiness.dependencies["store"].since == 120.0


def test_steady_success_changes_nothing():
    readiness = start()
    for name in ("store", "kafka"):
        readiness = record_probe(readiness, name, error=None, now=101.0).readiness
    again = record_probe(readiness, "store", error=None, now=105.0)
    assert not again.dependency_changed and not again.readiness_changed
    assert again.readiness == readiness


def test_recording_never_mutates_the_previous_value():
    before = start()
    record_probe(before, "store", error=None, now=101.0)
    assert before.dependencies["store"].state is State.UNKNOWN
