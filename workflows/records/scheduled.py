"""Process REC: the retention sweep. Record data is erased when its retention ends; hashes stay."""

from __future__ import annotations

from storage import records
from workflows.kernel.actors import SYSTEM
from workflows.kernel.work import Context


def sweep_retention(ctx: Context) -> None:
    """Erase expired data and record how much was erased (nothing recorded when nothing expired)."""
    with ctx.work(SYSTEM) as work:
        erased = records.erase_expired(work.session, work.now)
        if erased:
            work.record("REC", "retention-sweep", ("records", "retention"), {"erased": erased})
