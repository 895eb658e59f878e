"""An account's presence from what each gateway recorded (svyaz/messaging/presence.py)."""

from svyaz.messaging.presence import GatewayState, Sighting, combined

NOW, LIVENESS = 1000.0, 30.0
A = GatewayState("ru-a", epoch="e1", seen_at=NOW - 5)
B = GatewayState("ru-b", epoch="e7", seen_at=NOW - 10)
GATEWAYS = {"ru-a": A, "ru-b": B}


def presence(*sightings: Sighting, gateways=GATEWAYS):
    return combined(sightings, gateways, now=NOW, liveness_s=LIVENESS)


def test_never_seen_is_none():
    assert presence() is None


def test_leaving_one_gateway_keeps_an_account_online_through_the_other():
    assert presence(Sighting("ru-a", "e1", online=False, at=990.0),
                    Sighting("ru-b", "e7", online=True, at=900.0)) == (True, 900.0)


def test_online_since_the_earliest_live_connection_and_offline_since_the_latest_departure():
    assert presence(Sighting("ru-a", "e1", True, 950.0), Sighting("ru-b", "e7", True, 920.0)) == (True, 920.0)
    assert presence(Sighting("ru-a", "e1", False, 950.0), Sighting("ru-b", "e7", False, 970.0)) == (False, 970.0)


def test_a_gateway_that_stopped_beating_holds_no_connection_any_more():
    silent = {"ru-a": GatewayState("ru-a", "e1", seen_at=NOW - 31)}
    assert presence(Sighting("ru-a", "e1", True, 900.0), gateways=silent) == (False, NOW - 31)


def test_what_a_gateway_recorded_before_it_restarted_is_gone():
    restarted = {"ru-a": GatewayState("ru-a", "e2", seen_at=NOW - 1)}
    assert presence(Sighting("ru-a", "e1", True, 900.0), gateways=restarted) == (False, 900.0)


def test_a_gateway_never_heard_of_counts_as_gone():
    assert presence(Sighting("ru-x", "e9", True, 900.0)) == (False, 900.0)
