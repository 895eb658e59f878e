"""The identity service over the real store on the ru FerretDB, with the default PBKDF2 cost: two
"processes" (services with their own clients) share one database, as two node workers would.

Each asks its own svyaz.rbac role index for granted roles, as the node wires it (empty here: the
role rules with real assignments are tests/integration/rbac/test_second_factor.py)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pymongo import MongoClient

from svyaz.identity.errors import BadCredentials, RefreshReuse, SessionRevoked, TotpReplayed, TotpRequired
from svyaz.identity.service import Device, IdentityConfig, IdentityService
from svyaz.identity.store import IdentityStore
from svyaz.identity.tokens import Keyring
from svyaz.identity.totp import code_at, time_step
from svyaz.rbac.index import RoleIndex

ALICE = "@alice:ru"
PASSWORD = "correct horse battery"
HOME = Device(address="10.0.0.1", name="laptop")
KEYRING = Keyring("k1", {"k1": b"\x11" * 32})


def granted_in_ru(index):
    return lambda account: index.roles_of(account, "ru")


@pytest.fixture
def services(stack, test_id):
    """Two services over one core database, each with its own MongoClient."""
    clients = [MongoClient(stack.mongo("ru"), serverSelectionTimeoutMS=5000) for _ in range(2)]
    stores = [IdentityStore(client[f"{test_id}_core"]) for client in clients]
    stores[0].ensure_indexes()
    yield [
        IdentityService(store, KEYRING, IdentityConfig(region="ru"), granted_roles=granted_in_ru(RoleIndex()))
        for store in stores
    ]
    clients[0].drop_database(f"{test_id}_core")
    for client in clients:
        client.close()


def test_register_sign_in_with_totp_refresh_and_catch_a_reused_refresh_token(services):
    first, second = services
    first.register(ALICE, PASSWORD)
    enrolment = first.begin_totp_enrolment(ALICE, PASSWORD, device=HOME)
    codes = second.confirm_totp(ALICE, PASSWORD, code_at(enrolment.secret, time_step(time.time())), device=HOME)
    assert len(codes.codes) == 10

    with pytest.raises(BadCredentials):
        second.login(ALICE, "not the password at all", device=HOME)
    with pytest.raises(TotpRequired):
        second.login(ALICE, PASSWORD, device=HOME)
    signed_in = second.login(ALICE, PASSWORD, device=HOME, recovery_code=codes.codes[0])
    assert signed_in.recovery_codes_left == 9
    assert first.authenticate(signed_in.tokens.access_token).sub == ALICE

    rotated = first.refresh(signed_in.tokens.refresh_token)
    with pytest.raises(RefreshReuse):
        second.refresh(signed_in.tokens.refresh_token)
    with pytest.raises(SessionRevoked):
        first.refresh(rotated.refresh_token)
    with pytest.raises(SessionRevoked):
        second.authenticate(rotated.access_token)


def test_one_totp_code_signs_in_once_across_two_processes_racing(services):
    first, second = services
    first.register(ALICE, PASSWORD)
    enrolment = first.begin_totp_enrolment(ALICE, PASSWORD, device=HOME)
    step = time_step(time.time())
    first.confirm_totp(ALICE, PASSWORD, code_at(enrolment.secret, step), device=HOME)

    # The next step's code is inside the ±1 window now and fresh: both processes get it at once.
    code = code_at(enrolment.secret, step + 1)
    barrier = threading.Barrier(2)

    def sign_in(service):
        barrier.wait()
        try:
            return service.login(ALICE, PASSWORD, device=HOME, totp_code=code)
        except TotpReplayed as err:
            return err

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(sign_in, services))

    assert sorted(type(o).__name__ for o in outcomes) == ["LoginResult", "TotpReplayed"]
