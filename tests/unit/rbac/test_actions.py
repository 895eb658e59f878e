"""The action catalogue is well-formed, and the anonymous and privileged flags mean what they say."""

from __future__ import annotations

import pytest

from svyaz.rbac.actions import CATALOGUE, Action, Catalogue


def test_the_anonymous_actions_are_register_login_and_refresh():
    assert CATALOGUE.anonymous_names() == {"account.register", "auth.login", "auth.refresh"}


def test_everything_that_acts_on_others_is_privileged():
    privileged = {a.name for a in CATALOGUE if a.privileged}
    assert privileged == {
        "sessions.revoke.any", "role.grant", "role.revoke", "role.list", "audit.read", "audit.verify",
        "lawful.request.submit", "lawful.request.review", "lawful.request.approve", "lawful.request.reject",
        "lawful.request.list", "lawful.request.show", "lawful.request.close",
        "lawful.request.export", "lawful.request.download",
        "moderation.review",
    }


def test_lookup():
    assert CATALOGUE.get("role.grant").privileged
    assert CATALOGUE.get("role.grant_all") is None
    assert "auth.login" in CATALOGUE and "auth" not in CATALOGUE
    assert len(CATALOGUE) == len(CATALOGUE.names()) == len(set(CATALOGUE.names()))


@pytest.mark.parametrize("bad", [
    lambda: Action("Role.Grant", "x"),
    lambda: Action("role", "x"),
    lambda: Action("role.grant", ""),
    lambda: Action("role.grant", "two\nlines"),
    lambda: Action("auth.login", "x", anonymous=True, privileged=True),
    lambda: Catalogue((Action("a.b", "x"), Action("a.b", "y"))),
])
def test_malformed_entries_are_refused(bad):
    with pytest.raises(ValueError):
        bad()


def test_the_catalogue_cannot_be_changed_at_run_time():
    with pytest.raises(AttributeError):
        CATALOGUE.get("auth.login").anonymous = False
    with pytest.raises(TypeError):
        CATALOGUE._by_name["x.y"] = Action("x.y", "x")
