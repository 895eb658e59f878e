"""Several accounts on one device: switching, removing, and tokens kept out of the plain index."""

import pytest

from svyaz.client.accounts import AccountBook, AccountBookError, Tokens


class MemorySecrets:
    def __init__(self):
        self.values = {}

    def get(self, account):
        return self.values.get(account)

    def set(self, account, value):
        self.values[account] = value

    def delete(self, account):
        self.values.pop(account, None)


def tokens(n: int) -> Tokens:
    return Tokens(session_id=f"s{n}", access_token=f"access-{n}", refresh_token=f"refresh-{n}")


@pytest.fixture
def book(tmp_path):
    return AccountBook(tmp_path, MemorySecrets())


def test_a_second_account_becomes_current_and_the_first_stays(book):
    book.add("@alice:ru", "ws://127.0.0.1:8101/", tokens(1))
    book.add("@alice2:ru", "ws://127.0.0.1:8101/", tokens(2))

    assert book.current() == "@alice2:ru"
    assert [(e.account, e.current) for e in book.entries()] == [("@alice2:ru", True), ("@alice:ru", False)]
    assert book.tokens("@alice:ru") == tokens(1)


def test_switching_and_removing_the_current_account(book):
    book.add("@alice:ru", "ws://127.0.0.1:8101/", tokens(1))
    book.add("@bob:kz", "ws://127.0.0.1:8103/", tokens(2))
    book.use("@alice:ru")

    book.remove("@alice:ru")

    assert book.current() == "@bob:kz"
    with pytest.raises(AccountBookError, match="not on this device"):
        book.tokens("@alice:ru")


def test_the_plain_index_holds_no_token(book, tmp_path):
    book.add("@alice:ru", "ws://127.0.0.1:8101/", tokens(1))

    index = (tmp_path / "accounts.json").read_text()
    assert "access-1" not in index and "refresh-1" not in index


def test_an_empty_device_says_how_to_start(book):
    with pytest.raises(AccountBookError, match="no account") as caught:
        book.current()
    assert "svyaz login" in caught.value.hint
