"""Profile changes: only known fields, clean values, applied whole or not at all."""

from __future__ import annotations

import pytest

from svyaz.identity.errors import InvalidProfile
from svyaz.identity.profile import ABOUT_LIMIT, DISPLAY_NAME_LIMIT, Profile, apply_changes


def test_a_change_names_only_the_fields_it_changes():
    start = Profile(display_name="Alice", about="hi", presence="everyone")
    changed = apply_changes(start, {"presence": "contacts"})
    assert changed == Profile(display_name="Alice", about="hi", presence="contacts")


def test_names_are_trimmed_and_normalised():
    # "é" as e + combining acute becomes the one code point, so equal names look and compare equal.
    assert apply_changes(Profile(), {"display_name": "  Rene\u0301 "}).display_name == "Ren\u00e9"


@pytest.mark.parametrize(("changes", "field"), [
    ({"display_name": "x" * (DISPLAY_NAME_LIMIT + 1)}, "display_name"),
    ({"about": "x" * (ABOUT_LIMIT + 1)}, "about"),
    ({"display_name": "adm\u202eIN"}, "display_name"),      # right-to-left override
    ({"display_name": "Al\u200dice"}, "display_name"),       # zero-width joiner
    ({"display_name": "two\nlines"}, "display_name"),
    ({"presence": "friends"}, "presence"),
    ({"about": 42}, "about"),
    ({"roles": "admin"}, "roles"),                           # not a profile field at all
    ({}, "-"),
])
def test_a_bad_change_is_refused_naming_the_field(changes, field):
    with pytest.raises(InvalidProfile) as refused:
        apply_changes(Profile(), changes)
    assert refused.value.field == field


def test_one_bad_field_refuses_the_whole_change():
    with pytest.raises(InvalidProfile):
        apply_changes(Profile(), {"display_name": "Alice", "presence": "friends"})


def test_about_may_span_lines():
    assert apply_changes(Profile(), {"about": "line one\nline two"}).about == "line one\nline two"
