"""The node's lawful-access sweep (`[lawful]`, docs/node.md; docs/compliance.md, "The request
workflow" and "Exports and how to verify them").

Once at start, to catch up on what happened while the node was down or stopped half-way, then
every `lawful.expiry_sweep_interval_s`: `LawfulExports.sweep` stores (and audits, as
`node:<region>`) the expiry of every overdue request, and takes the bundles of requests that are
closed or expired off `<node.data_dir>/lawful/exports/`. Every process of a node sweeps; they
coordinate through the store (a step is an insert under a unique id) and the shelf (a removal
starts with a rename), so each expiry and each removal happens, and is audited, once. A sweep that
fails (store or audit log down) is logged and tried again at the next interval.
"""

from __future__ import annotations

import logging
import uuid

import trio

from svyaz.compliance.lawful.export import LawfulExports, Swept
from svyaz.errors import SvyazError

logger = logging.getLogger("svyaz.node.lawful_sweep")


async def serve_lawful_sweep(exports: LawfulExports, *, interval_s: float,
                             task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    while True:
        await sweep_once(exports)
        await trio.sleep(interval_s)


async def sweep_once(exports: LawfulExports) -> Swept | None:
    """One sweep; None if it failed (logged)."""
    try:
        swept = await exports.sweep(call_id=f"sweep-{uuid.uuid4().hex}")
    except SvyazError as err:
        logger.warning("lawful-access sweep failed; trying again at the next interval", extra={"error": str(err)})
        return None
    if swept.expired or swept.removed:
        logger.info("lawful-access sweep", extra={"expired": len(swept.expired), "bundles_removed": len(swept.removed)})
    if swept.unknown:
        # Kept: a wrong store.database_prefix must not destroy what was handed to an authority.
        logger.warning("bundles of requests unknown to this node's store are kept on the shelf",
                       extra={"bundles": ",".join(swept.unknown)})
    return swept
