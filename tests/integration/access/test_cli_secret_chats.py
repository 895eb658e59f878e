"""Secret chats and a secret group from the CLI against a real node, each person on their own
device: keys set up, a chat started, sealed messages read on the other side, safety numbers that
agree, the policy shown to the user, and clear refusals. (Each command is its own process, which
is slow: one scenario covers both kinds of chat.)"""

from __future__ import annotations

import re

import pytest

from tests.integration.access.test_cli_accounts import output, svyaz
from tests.integration.access.test_cli_shared_chats import devices, refused

pytestmark = pytest.mark.usefixtures("stack")

SECRET_ID = re.compile(r"sc/@ann:ru/@bob:ru/[0-9a-f]{16}")


async def test_people_hold_a_secret_chat_and_a_secret_group_from_the_command_line(node, tmp_path):
    d = await devices(node, tmp_path, "ann", "bob", "cid")

    no_keys_yet = await svyaz(d["ann"], "secret", "start", "@bob:ru", check=False)
    set_up = output(await svyaz(d["bob"], "secret", "set-up", "--json"))
    await svyaz(d["cid"], "secret", "set-up")
    started = output(await svyaz(d["ann"], "secret", "start", "@bob:ru", "--json"))
    chat = started["chat"]
    await svyaz(d["ann"], "secret", "send", chat, "-", stdin="Пароль от сейфа: 4711")
    shown = (await svyaz(d["bob"], "secret", "read", chat)).stdout.decode()
    await svyaz(d["bob"], "secret", "send", chat, "received")
    on_ann = output(await svyaz(d["ann"], "secret", "read", chat, "--json"))
    safety_bob = output(await svyaz(d["bob"], "secret", "safety", chat, "--json"))["safety_number"]
    plain_history = output(await svyaz(d["bob"], "history", chat, "--json"))["messages"]
    not_held = await svyaz(d["ann"], "secret", "send", chat.replace(chat[-16:], "0" * 16), "hi", check=False)

    refused(no_keys_yet, b"has not set up secret chats yet")
    assert set_up == {"one_time_prekeys": 100}
    assert SECRET_ID.fullmatch(chat) and started["policy"] == "strict"
    assert "policy: strict" in shown and "@ann:ru: Пароль от сейфа: 4711" in shown
    assert [(m["sender"], m["text"]) for m in on_ann["messages"]] == [
        ("@ann:ru", "Пароль от сейфа: 4711"), ("@bob:ru", "received")]
    assert safety_bob == started["safety_number"] and len(safety_bob.split()) == 12
    assert all(m["text"] == "" and m["sealed"] for m in plain_history)  # the node holds no plaintext
    refused(not_held, b"holds no session")

    created = output(await svyaz(d["ann"], "secret", "group", "create", "Клуб", "@bob:ru", "@cid:ru", "--json"))
    group = created["chat"]
    await svyaz(d["ann"], "secret", "send", group, "-", stdin="Сбор в 8, пароль «ель»")
    in_group = (await svyaz(d["cid"], "secret", "read", group)).stdout.decode()
    in_clear = await svyaz(d["ann"], "send", group, "in clear", check=False)
    listed = output(await svyaz(d["ann"], "secret", "list", "--json"))["chats"]

    assert re.fullmatch(r"g/ru/[0-9a-f]{16}", group) and created["policy"] == "strict"
    assert "policy: strict" in in_group and "@ann:ru: Сбор в 8, пароль «ель»" in in_group
    refused(in_clear, b"secret group")
    assert chat in listed and group in listed
