"""policies/policy.csv decides exactly what this table says, for every action, role and region.

The table is written out by hand on purpose: a policy edit that grants something unintended (or a
new action nobody thought about) fails here until a person changes this table too.
"""

from __future__ import annotations

import pytest

from svyaz.rbac.actions import CATALOGUE
from svyaz.rbac.assignment import RoleAssignment
from svyaz.rbac.errors import PolicyError
from svyaz.rbac.policy import DEFAULT_POLICY_DIR, load_policy
from svyaz.rbac.roles import ALL_ROLES
from svyaz.regions import KNOWN_REGIONS

ROLES = ("anonymous", "user", "moderator", "security_officer", "auditor", "authority", "admin", "service")
#                           anon user  mod   sec   aud  auth  adm   svc
EXPECTED = {
    "account.register":        (1,   1,    0,    0,    0,   0,    0,    0),
    "auth.login":              (1,   1,    0,    0,    0,   0,    0,    0),
    "auth.refresh":            (1,   1,    0,    0,    0,   0,    0,    0),
    "account.profile.read":    (0,   1,    0,    0,    0,   0,    0,    0),
    "account.profile.update":  (0,   1,    0,    0,    0,   0,    0,    0),
    "account.password.change": (0,   1,    0,    0,    0,   0,    0,    0),
    "2fa.enable":              (0,   1,    0,    0,    0,   0,    0,    0),
    "2fa.confirm":             (0,   1,    0,    0,    0,   0,    0,    0),
    "2fa.disable":             (0,   1,    0,    0,    0,   0,    0,    0),
    "sessions.list":           (0,   1,    0,    0,    0,   0,    0,    0),
    "sessions.revoke":         (0,   1,    0,    0,    0,   0,    0,    0),
    "account.data.export":     (0,   1,    0,    0,    0,   0,    0,    0),
    "message.send":            (0,   1,    0,    0,    0,   0,    0,    0),
    "message.forward":         (0,   1,    0,    0,    0,   0,    0,    0),
    "message.edit":            (0,   1,    0,    0,    0,   0,    0,    0),
    "message.delete":          (0,   1,    0,    0,    0,   0,    0,    0),
    "message.history":         (0,   1,    0,    0,    0,   0,    0,    0),
    "message.delivered":       (0,   1,    0,    0,    0,   0,    0,    0),
    "message.read":            (0,   1,    0,    0,    0,   0,    0,    0),
    "chat.typing":             (0,   1,    0,    0,    0,   0,    0,    0),
    "chat.list":               (0,   1,    0,    0,    0,   0,    0,    0),
    "group.create":            (0,   1,    0,    0,    0,   0,    0,    0),
    "group.invite":            (0,   1,    0,    0,    0,   0,    0,    0),
    "group.remove":            (0,   1,    0,    0,    0,   0,    0,    0),
    "group.admin":             (0,   1,    0,    0,    0,   0,    0,    0),
    "group.members":           (0,   1,    0,    0,    0,   0,    0,    0),
    "channel.create":          (0,   1,    0,    0,    0,   0,    0,    0),
    "channel.subscribe":       (0,   1,    0,    0,    0,   0,    0,    0),
    "channel.unsubscribe":     (0,   1,    0,    0,    0,   0,    0,    0),
    "channel.post":            (0,   1,    0,    0,    0,   0,    0,    0),
    "channel.comment":         (0,   1,    0,    0,    0,   0,    0,    0),
    "block.add":               (0,   1,    0,    0,    0,   0,    0,    0),
    "block.remove":            (0,   1,    0,    0,    0,   0,    0,    0),
    "block.list":              (0,   1,    0,    0,    0,   0,    0,    0),
    "report.create":           (0,   1,    0,    0,    0,   0,    0,    0),
    "presence.get":            (0,   1,    0,    0,    0,   0,    0,    0),
    "directory.lookup":        (0,   1,    0,    0,    0,   0,    0,    0),
    "keys.publish":            (0,   1,    0,    0,    0,   0,    0,    0),
    "keys.count":              (0,   1,    0,    0,    0,   0,    0,    0),
    "keys.claim":              (0,   1,    0,    0,    0,   0,    0,    0),
    "secret.send":             (0,   1,    0,    0,    0,   0,    0,    0),
    "secret.report":           (0,   1,    0,    0,    0,   0,    0,    0),
    "secret.policy":           (0,   1,    0,    0,    0,   0,    0,    0),
    "sessions.revoke.any":     (0,   0,    0,    1,    0,   0,    0,    0),
    "role.grant":              (0,   0,    0,    0,    0,   0,    1,    0),
    "role.revoke":             (0,   0,    0,    0,    0,   0,    1,    0),
    "role.list":               (0,   0,    0,    0,    1,   0,    1,    0),
    "audit.read":              (0,   0,    0,    1,    1,   0,    0,    0),
    "audit.verify":            (0,   0,    0,    1,    1,   0,    0,    0),
    "lawful.request.submit":   (0,   0,    0,    0,    0,   1,    0,    0),
    "lawful.request.review":   (0,   0,    0,    1,    0,   0,    0,    0),
    "lawful.request.approve":  (0,   0,    0,    1,    0,   0,    0,    0),
    "lawful.request.reject":   (0,   0,    0,    1,    0,   0,    0,    0),
    "lawful.request.list":     (0,   0,    0,    1,    0,   1,    0,    0),
    "lawful.request.show":     (0,   0,    0,    1,    0,   1,    0,    0),
    "lawful.request.close":    (0,   0,    0,    1,    0,   1,    0,    0),
    "lawful.request.export":   (0,   0,    0,    1,    0,   0,    0,    0),
    "lawful.request.download": (0,   0,    0,    0,    0,   1,    0,    0),
    "moderation.review":       (0,   0,    1,    0,    0,   0,    0,    0),
    "federation.event.deliver": (0,  0,    0,    0,    0,   0,    0,    1),
}
CASES = [(action, role, bool(row[i])) for action, row in EXPECTED.items() for i, role in enumerate(ROLES)]


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def test_the_table_covers_every_catalogue_action_and_every_role():
    assert list(EXPECTED) == list(CATALOGUE.names())
    assert set(ROLES) == ALL_ROLES


@pytest.mark.parametrize("region", KNOWN_REGIONS)
@pytest.mark.parametrize(("action", "role", "allowed"), CASES, ids=[f"{a}-{r}" for a, r, _ in CASES])
def test_each_role_may_do_exactly_what_the_table_says(policy, action, role, allowed, region):
    assert policy.enforce(role, region, action) is allowed  # casbin itself
    assert policy.permits(role, region, action) is allowed  # the memoised answer the guard uses


def test_an_unknown_region_or_action_is_denied_to_every_role(policy):
    for role in ROLES:
        assert not policy.permits(role, "us", "auth.login")
        assert not policy.permits(role, "ru", "messages.delete_everything")


def test_admin_holds_no_audit_or_lawful_access_and_nobody_holds_everything(policy):
    admin_may = {a for a in CATALOGUE.names() if policy.permits("admin", "ru", a)}
    assert admin_may == {"role.grant", "role.revoke", "role.list"}
    for role in ROLES:
        assert not all(policy.permits(role, "ru", action) for action in CATALOGUE.names())


def test_a_grant_applies_in_its_region_only(policy):
    policy.index.replace_all([RoleAssignment("@olga:ru", "moderator", "ru")])
    try:
        assert policy.enforce("@olga:ru", "ru", "moderation.review")
        assert not policy.enforce("@olga:ru", "by", "moderation.review")
        assert not policy.enforce("@olga:ru", "ru", "audit.read")
    finally:
        policy.index.replace_all([])


# The loader refuses policies that do not fit the catalogue, naming the line.

def write_policy(tmp_path, text: str):
    path = tmp_path / "policy.csv"
    base = (DEFAULT_POLICY_DIR / "policy.csv").read_text()
    path.write_text(base + text)
    return path


@pytest.mark.parametrize(("extra", "message"), [
    ("g, admin, auditor, *\n", "role links do not belong in policy.csv"),
    ("p, admin, *, audit.read, extra\n", "expected `p, <role>, <region or *>, <action>`"),
    ("p, superuser, *, audit.read\n", "unknown role 'superuser'"),
    ("p, admin, us, audit.read\n", "unknown region 'us'"),
    ("p, admin, *, audit.delete\n", "action 'audit.delete' is not in the catalogue"),
    ("p, admin, *, role.grant\n", "duplicate rule"),
    ("p, anonymous, *, account.profile.read\n", "differ from the catalogue's anonymous actions"),
])
def test_a_policy_that_does_not_fit_the_catalogue_is_refused(tmp_path, extra, message):
    path = write_policy(tmp_path, extra)
    with pytest.raises(PolicyError, match="policy.csv") as raised:
        load_policy(policy_path=path)
    assert message in str(raised.value)


def test_an_action_no_role_may_perform_is_refused(tmp_path):
    path = tmp_path / "policy.csv"
    text = (DEFAULT_POLICY_DIR / "policy.csv").read_text()
    path.write_text(text.replace("p, service, *, federation.event.deliver\n", ""))
    with pytest.raises(PolicyError, match="no role may perform federation.event.deliver"):
        load_policy(policy_path=path)


def test_a_model_without_domains_is_refused(tmp_path):
    model = tmp_path / "model.conf"
    model.write_text((DEFAULT_POLICY_DIR / "model.conf").read_text().replace("g = _, _, _", "g = _, _"))
    with pytest.raises(PolicyError, match="RBAC with domains"):
        load_policy(model_path=model)


def test_a_missing_file_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(policy_path=tmp_path / "nope.csv")
