"""Lawful access (issue 6; docs/compliance.md): requests of authorities under a four-eyes
workflow, scoped and signed exports, retention with legal hold, the transparency report.

  model      the request, its legal basis, its states and steps (pure)
  errors     LawfulError and the workflow's stable refusal codes (pure)
  workflow   the step rules (`next_state`, `check_draft`, ...) and the `LawfulRequests` use cases over
             the `RequestStore` port and the audit sink; no trio, no driver
  store      MongoLawfulStore: requests and their steps in `<prefix>_compliance` (pymongo in threads)
  workflow_cli  `svyaz lawful submit|list|show|review|approve|reject|close`
  collect    what the node holds about a subject, per category and time range, as JSON records,
             over the `SubjectHoldings` port; escrow opening only with officers' shares
  bundle     the signed bundle directory: JSONL per category, manifest.json, manifest.sig
             (GOST R 34.10-2012, what `openssl dgst -md_gost12_256 -verify` checks), verification
  encryption a bundle encrypted to an authority's key (VKO + the project's AEAD, in segments)
  export_key the node's export key in `<node.data_dir>/lawful/`
  export     the `LawfulExports` use cases (export an approved request, the authority's download,
             the close that removes the bundle, the node's sweep: overdue requests expired, bundles
             of closed or expired ones removed) over the workflow, the holdings and the shelf; no
             trio, no driver
  shelf      FileShelf: bundles in `<node.data_dir>/lawful/exports/` (files in trio threads)
  export_cli `svyaz lawful export|download|verify|export-key`
  retention  policies/retention.toml parsed, the purge rule, legal hold and the walk of one chat
             over the `ChatMessages` port (pure)
  purge      the purge against the node's bulkhead databases and chat list, its counts-only
             report and audit entry (pymongo in threads)
  transparency  the transparency report: counts by state and category, time to decision (pure)
  retention_cli `svyaz lawful purge|report` (operators, with the node's configuration)

model, errors and workflow import only the standard library, `svyaz.errors`, the audit port
(`svyaz.compliance.audit.event`), `svyaz.identity.accounts`/`errors` and `svyaz.rbac.roles`;
tests/unit/compliance/lawful/test_layering.py checks it.
"""
