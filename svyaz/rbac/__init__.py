"""Casbin RBAC with regions as domains; the one guard every action passes (issue: identity).

Policies are data in `policies/` (model.conf, policy.csv: role -> action per region); who holds
which role lives in the store and reaches every process of the node over Kafka. These role
assignments are the only place Svyaz keeps granted roles: svyaz.identity keeps none and asks the
index through a port (docs/rbac.md).

  actions         the catalogue: every action name, its description, anonymous / privileged flags
  roles           role names, implicit vs granted roles, separation-of-duty conflicts, ROLES_REQUIRING_2FA
  principal       who is asking (actor id, implicit roles, anonymous)
  assignment      RoleAssignment and its validation
  index           the in-memory role index, casbin's role manager for `g`
  policy          loads and checks model.conf + policy.csv; memoised casbin decisions
  guard           Guard.check: allow, or audit the denial and raise Forbidden; audits privileged actions
  administration  role.grant / role.revoke / role.list use cases
  changes         the role-change event on `<topic_prefix>rbac.changes`
  ports           RoleStore, ChangePublisher, SecondFactorCheck; `store` (pymongo) and `publisher`
                  (confluent-kafka) adapt the first two, svyaz.identity answers the third
  loader          store -> index, serialised reloads; `watcher` runs them on events and periodically
  errors          RbacError and its codes (Forbidden is `forbidden`)

May import: casbin, trio, pymongo, confluent-kafka, svyaz.errors, svyaz.regions and the audit port
svyaz.compliance.audit.event. Never svyaz.node, svyaz.identity or svyaz.stack: the node wires this
package, not the other way round. `actions`, `roles`, `principal`, `assignment`, `changes`, `errors`,
`index` and `policy` import no trio and no driver (casbin is CPU-only), so they test in milliseconds;
tests/unit/rbac/test_layering.py checks both rules. svyaz.identity imports `roles` (and nothing
else from here), so `roles` and this `__init__` must stay free of imports beyond the standard
library.
"""
