"""The residency rule: a conversation is stored on its participants' home nodes only, and an event
goes only to the peers among them."""

from __future__ import annotations

import pytest

from svyaz.federation.errors import ResidencyViolation
from svyaz.federation.residency import (
    channel_route,
    group_route,
    home_region,
    private_route,
    regions_of,
    route,
)


def test_a_ru_only_conversation_has_no_peers():
    assert private_route("ru", "@alice:ru", "@boris:ru").peers == frozenset()
    assert group_route("ru", "ru", ["@alice:ru", "@boris:ru", "@vera:ru"]).peers == frozenset()
    assert channel_route("ru", "ru", {"ru"}).peers == frozenset()
    assert channel_route("ru", "ru", ()).stored_in == {"ru"}  # a channel nobody follows yet


def test_a_ru_kz_private_chat_goes_from_ru_to_kz_only_and_back():
    from_ru = private_route("ru", "@alice:ru", "@bob:kz")
    from_kz = private_route("kz", "@alice:ru", "@bob:kz")

    assert from_ru.peers == {"kz"} and from_kz.peers == {"ru"}
    assert from_ru.stored_in == from_kz.stored_in == {"ru", "kz"}  # and never by


def test_a_group_with_members_in_three_regions_reaches_the_other_two():
    members = ["@alice:ru", "@anna:ru", "@bob:kz", "@bela:by"]

    assert group_route("ru", "ru", members).sorted_peers() == ("by", "kz")
    assert group_route("by", "ru", members).sorted_peers() == ("kz", "ru")


def test_a_group_is_stored_on_its_home_node_even_without_a_member_there():
    # Homed in ru (which numbers its messages), all current members in kz.
    assert group_route("kz", "ru", ["@bob:kz", "@bek:kz"]).peers == {"ru"}


def test_a_channel_post_goes_once_per_region_not_once_per_subscriber():
    subscribers = [f"@sub{i:04d}:kz" for i in range(2000)] + [f"@sub{i:04d}:by" for i in range(3)]

    posted = channel_route("ru", "ru", regions_of(subscribers))

    assert posted.sorted_peers() == ("by", "kz")  # two copies leave ru, for 2003 subscribers


def test_a_comment_from_abroad_goes_to_the_channel_home_and_the_other_subscriber_regions():
    assert channel_route("kz", "ru", {"kz", "by"}).sorted_peers() == ("by", "ru")


def test_a_region_that_does_not_store_the_conversation_may_not_route_it():
    with pytest.raises(ResidencyViolation, match="by does not store"):
        private_route("by", "@alice:ru", "@bob:kz")
    with pytest.raises(ResidencyViolation):
        channel_route("by", "ru", {"kz"})


def test_malformed_accounts_and_regions_are_refused():
    assert home_region("@bob:kz") == "kz"
    with pytest.raises(ResidencyViolation):
        home_region("bob@kz")
    with pytest.raises(ResidencyViolation):
        route("xx", {"xx"})
    with pytest.raises(ResidencyViolation):
        group_route("ru", "zz", ["@alice:ru"])
