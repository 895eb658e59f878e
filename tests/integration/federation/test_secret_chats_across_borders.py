"""A secret chat between a resident of Russia and one of Kazakhstan: keys claimed from the home
node abroad, sealed messages relayed through both nodes, and neither store holding a word of it."""

from __future__ import annotations

import pytest

from svyaz.client.connection import open_node_client
from tests.integration.access.test_attack_script import register_and_login
from tests.integration.federation.test_private_chats_across_borders import until
from tests.integration.messaging.test_secret_chats import every_document, secret_chats

pytestmark = pytest.mark.usefixtures("stack")

SAID = ["Ключ под ковриком", "не забудь документы", "Жарайды, түсіндім"]


async def test_vera_in_russia_and_oleg_in_kazakhstan_hold_a_secret_chat_across_the_border(federation, tmp_path):
    ru, kz = federation["ru"], federation["kz"]
    vera_tokens = await register_and_login(ru, "@vera:ru")
    oleg_tokens = await register_and_login(kz, "@oleg:kz")
    async with open_node_client(ru.url, access_token=vera_tokens["access_token"]) as v, \
            open_node_client(kz.url, access_token=oleg_tokens["access_token"]) as o:
        vera = secret_chats(v, "@vera:ru", tmp_path / "vera")
        oleg = secret_chats(o, "@oleg:kz", tmp_path / "oleg")
        assert await oleg.set_up() == 100
        chat = await vera.start("@oleg:kz")           # his keys are claimed from the kz node
        assert (await o.call("keys.count"))["one_time_prekeys"] == 99
        await vera.send(chat, SAID[0])
        await vera.send(chat, SAID[1])

        async def oleg_has_both() -> bool:
            return [entry["text"] for entry in await oleg.receive(chat)] == SAID[:2]

        await until(oleg_has_both)
        await oleg.send(chat, SAID[2])

        async def vera_has_the_answer() -> bool:
            return [entry["text"] for entry in await vera.receive(chat)] == SAID

        await until(vera_has_the_answer)

    assert vera.safety_number(chat) == oleg.safety_number(chat)
    for node in (ru, kz):
        stored = every_document(node)
        assert chat.encode() in stored
        for text in SAID:
            assert text.encode() not in stored and text.encode("unicode_escape") not in stored
