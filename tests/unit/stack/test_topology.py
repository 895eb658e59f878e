import pytest

from svyaz.errors import SvyazError
from svyaz.regions import PORTS
from svyaz.stack.topology import parse_regions


def test_parse_regions_keeps_order_and_trims_spaces():
    assert parse_regions(" ru, kz ") == ("ru", "kz")


@pytest.mark.parametrize("text, problem", [
    ("ru,xx", "unknown region 'xx'"),
    ("", "no region given"),
    ("ru,ru", "listed twice"),
])
def test_parse_regions_rejects_bad_lists_with_a_fix(text, problem):
    with pytest.raises(SvyazError, match=problem) as caught:
        parse_regions(text)
    assert caught.value.hint


def test_no_two_services_of_any_regions_share_a_port():
    ports = [port for region in PORTS.values() for port in
             (region.kafka, region.kafka_controller, region.ferretdb, region.ferretdb + 1,
              region.gateway, region.http)]
    assert len(ports) == len(set(ports))


def test_every_stack_port_lies_below_the_kernels_ephemeral_range():
    # Inside it, a client retrying a stopped service's port can be given that port and connect to
    # itself, and the restarted service cannot bind (a CI run was lost to kz's Kafka on 39092).
    linux_default_lowest_ephemeral = 32768
    ports = [port for region in PORTS.values() for port in
             (region.kafka, region.kafka_controller, region.ferretdb, region.ferretdb + 1,
              region.gateway, region.http)]
    assert max(ports) < linux_default_lowest_ephemeral
