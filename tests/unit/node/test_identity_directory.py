"""What messaging asks identity, and what it remembers of the answers (svyaz/node/messaging.py)."""

import trio

from svyaz.node import messaging
from svyaz.node.messaging import IdentityDirectory


class Accounts:
    def __init__(self, *names: str) -> None:
        self.names = set(names)
        self.reads: list[str] = []

    def get_account(self, account: str):
        self.reads.append(account)
        return object() if account in self.names else None


async def test_an_existing_account_is_read_once_and_a_missing_one_every_time():
    store = Accounts("@bob:ru")
    directory = IdentityDirectory(store, trio.CapacityLimiter(1))
    answers = [await directory.exists(name) for name in ("@bob:ru", "@bob:ru", "@ghost:ru", "@ghost:ru")]
    store.names.add("@ghost:ru")   # registered meanwhile: found on the next ask
    assert answers == [True, True, False, False] and await directory.exists("@ghost:ru")
    assert store.reads == ["@bob:ru", "@ghost:ru", "@ghost:ru", "@ghost:ru"]


async def test_the_remembered_accounts_are_bounded(monkeypatch):
    monkeypatch.setattr(messaging, "KNOWN_ACCOUNTS", 2)
    store = Accounts("@a:ru", "@b:ru", "@c:ru")
    directory = IdentityDirectory(store, trio.CapacityLimiter(1))
    for name in ("@a:ru", "@b:ru", "@c:ru", "@a:ru"):   # @a was forgotten when @c came
        await directory.exists(name)
    assert store.reads == ["@a:ru", "@b:ru", "@c:ru", "@a:ru"]
