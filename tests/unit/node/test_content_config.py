"""store.encrypt_content: a typed boolean, on by default, checked like every other key."""

from __future__ import annotations

import pytest

from svyaz.node.config import Override, load_config
from svyaz.node.errors import ConfigError


def test_content_is_encrypted_by_default():
    assert load_config("ru", environ={}).store.encrypt_content is True


@pytest.mark.parametrize("raw, expected", [("false", False), ("TRUE", True), (" False ", False)])
def test_the_environment_says_true_or_false(raw, expected):
    config = load_config("ru", environ={"SVYAZ_STORE__ENCRYPT_CONTENT": raw})
    assert config.store.encrypt_content is expected


def test_a_toml_boolean_is_taken_as_it_is(tmp_path):
    path = tmp_path / "node.toml"
    path.write_text("[store]\nencrypt_content = false\n")
    assert load_config("ru", path=path, environ={}).store.encrypt_content is False


@pytest.mark.parametrize("raw", ["yes", "1", 1, "", "off"])
def test_anything_else_is_refused_naming_the_key_and_its_source(raw):
    with pytest.raises(ConfigError) as refused:
        load_config("ru", environ={}, overrides=[Override("store.encrypt_content", raw, "--flag")])
    assert str(refused.value).startswith("store.encrypt_content: expected true or false, got ")
    assert str(refused.value).endswith("(from --flag)")
