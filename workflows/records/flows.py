"""REC's entry that people call: ``/isms bundle [PERIOD]``, the evidence bundle an auditor takes away,
shared in the asker's DMs. Asking is a record (and, for an auditor, an auditor's access); the file
goes out through the outbox once per request, so a retried request does not share it twice."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

from config.organisation import Role
from workflows.communication.service import record_auditor_access
from workflows.kernel.access import Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.people import plural
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context
from workflows.outreach.files import MAX_BYTES, share_file
from workflows.performance import periods
from workflows.records.bundles import write_bundle
from workflows.records.scheduled import link_records

BUNDLE_READERS = frozenset({Role.AUDITOR, Role.ISMS_MANAGER})
"""Who may take the evidence bundle from chat (the command line is for whoever runs the bot)."""
USAGE = "/isms bundle 2026, /isms bundle 2026-Q4 or /isms bundle since 2026-01-01"


def bundle(ctx: Context, actor: Actor, text: str, key: str) -> Outcome:
    """The bundle of the period typed (this year so far without one), as a zip in the person's DMs."""
    require(ctx, actor, BUNDLE_READERS, process="REC", what="the evidence bundle")
    now = ctx.clock()
    wanted = text.strip()
    if wanted:
        try:
            period = periods.parse(wanted, ctx.org.zone, now)
        except Refused:
            raise Refused(f"I cannot read '{wanted}' as a period. Try {USAGE}.") from None
    else:
        period = periods.year(now.astimezone(ctx.org.zone).year, ctx.org.zone)
    if period.start > now:
        raise Refused(f"{period.label} has not begun yet. Try {USAGE}.")
    filename = f"isms-bundle-{period.label.replace(' ', '-')}.zip"
    link_records(ctx)  # the bundle holds linked records: chain what was committed since the last tick
    with tempfile.TemporaryDirectory(prefix="isms-bundle-") as folder:
        count, digest = write_bundle(ctx, period, now, Path(folder) / filename)
        content = (Path(folder) / filename).read_bytes()
    if len(content) > MAX_BYTES:
        command = f"isms-bot audit bundle --period {shlex.quote(period.label)} --out bundle.zip"
        raise Refused(
            f"The bundle of {period.label} has {len(content):,} bytes, more than the {MAX_BYTES:,} the bot shares "
            f"in chat. Whoever runs the bot can write it with `{command}`, or ask for a shorter period ({USAGE})."
        )
    record_auditor_access(ctx, actor, f"/isms bundle {period.label}", period.label)
    with ctx.work(actor) as work:
        if work.once(f"rec.bundle:{key}"):
            share_file(
                work,
                Recipient.person(actor.id),
                f"rec.bundle:{key}"[:200],
                filename=filename,
                content=content,
                title=f"Evidence bundle {period.label}",
                comment=(
                    f"The evidence bundle of {period.label}: {plural(count, 'record')}, the registers and the evidence "
                    f"answers. Unzip it and run `sha256sum -c SHA256SUMS`; the README inside says the rest. "
                    f"SHA-256 of the zip: {digest}"
                ),
            )
            work.record(
                "REC",
                "bundle-requested",
                ("bundle", period.label),
                {"to": actor.id, "file": filename, "records": count, "sha256": digest},
            )
    return Outcome(
        reply=Message(
            text=f"Evidence bundle of {period.label}: {plural(count, 'record')}",
            body=f"{filename} (SHA-256 {digest}) is on its way to your direct messages.",
        )
    )
