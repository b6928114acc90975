"""The Statement of Applicability (RT): every Annex A control and the organisation's own, each with
applicability, justification, implementation status, owner, and the latest accepted evidence of the
evidence activities linked to it, with its date and the SHA-256 of its file. A control marked
applicable with no evidence activity is a gap.

As a file (``isms-bot report soa --format xlsx|csv|html``, the HTML through the report template) and
in chat (``/isms soa``: counts and the gaps, paged, and the XLSX shared in the asker's DMs).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.annex_a import annex_a
from storage.models.evidence import EvidenceFile, EvidenceRequest, EvidenceSubmission
from storage.models.registers import RegisterItem
from workflows.communication.reports import Report, Table
from workflows.evidence.lifecycle import Decision
from workflows.kernel.access import require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import offset_of, page_message, window
from workflows.kernel.people import person_name, when
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context
from workflows.outreach.files import dated_name, share_each
from workflows.registers.lifecycle import OVERSEERS
from workflows.registers.messages import MORE

COLUMNS = (
    "control",
    "name",
    "source",
    "applicable",
    "justification",
    "implementation",
    "owner",
    "activities",
    "evidence",
    "evidence_date",
    "sha256",
    "gap",
)
LIST = "soa"
"""The name of the gaps list in its "More" button."""
GAP = "applicable, no evidence activity"


@dataclass(frozen=True)
class Evidence:
    ref: str
    decided_at: datetime
    sha256: str


def latest_evidence(session: Session, keys: set[str]) -> dict[str, Evidence]:
    """Per activity key, its latest accepted submission (by decision time) and the hash of its file."""
    if not keys:
        return {}
    rows = session.execute(
        select(EvidenceRequest.activity_key, EvidenceRequest.id, EvidenceSubmission.id, EvidenceSubmission.decided_at)
        .join(EvidenceSubmission, EvidenceSubmission.request_id == EvidenceRequest.id)
        .where(EvidenceRequest.activity_key.in_(keys), EvidenceSubmission.decision == Decision.ACCEPTED)
        .order_by(EvidenceSubmission.decided_at, EvidenceSubmission.id)
    ).all()
    latest = {key: (request_id, submission_id, decided) for key, request_id, submission_id, decided in rows}
    hashes = dict(
        session.execute(
            select(EvidenceFile.submission_id, EvidenceFile.sha256)
            .where(EvidenceFile.submission_id.in_([s for _, s, _ in latest.values()]), EvidenceFile.sha256.is_not(None))
            .order_by(EvidenceFile.id.desc())
        ).all()
    )
    return {
        key: Evidence(f"EV-{request_id}", decided, hashes.get(submission_id) or "")
        for key, (request_id, submission_id, decided) in latest.items()
        if decided is not None
    }


def rows(ctx: Context, session: Session) -> list[dict[str, str]]:
    """The SoA's rows: Annex A in the standard's order, then the organisation's own controls by id."""
    items = {item.ref: item for item in session.scalars(select(RegisterItem).where(RegisterItem.kind == "control"))}
    catalogue = annex_a()
    keys = {key for item in items.values() for key in _activities(item)}
    evidence = latest_evidence(session, keys)
    own = sorted(ref for ref in items if ref not in catalogue)
    result = []
    for ref in [*catalogue, *own]:
        item = items.get(ref)
        activities = _activities(item) if item else []
        found = [evidence[key] for key in activities if key in evidence]
        newest = max(found, key=lambda e: e.decided_at) if found else None
        fields = (item.fields or {}) if item else {}
        applicable = str(fields.get("applicable") or "")
        result.append(
            {
                "control": ref,
                "name": item.title if item else catalogue[ref],
                "source": "Annex A" if ref in catalogue else "own",
                "applicable": applicable or "not assessed",
                "justification": str(fields.get("justification") or ""),
                "implementation": item.status.replace("_", " ") if item else "",
                "owner": person_name(ctx.org, item.owner) if item and item.owner else "",
                "activities": "; ".join(activities),
                "evidence": newest.ref if newest else "",
                "evidence_date": newest.decided_at.astimezone(ctx.org.zone).date().isoformat() if newest else "",
                "sha256": newest.sha256 if newest else "",
                "gap": GAP if applicable == "yes" and not activities else "",
            }
        )
    return result


def _activities(item: RegisterItem | None) -> list[str]:
    value = (item.fields or {}).get("activities") if item else None
    return [part.strip() for part in str(value or "").split(";") if part.strip()]


def as_csv(table: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue().encode("utf-8")


def as_xlsx(table: list[dict[str, str]]) -> bytes:
    from openpyxl import Workbook  # only when the SoA is exported: ~150 ms off every start

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Statement of Applicability")
    sheet.append(list(COLUMNS))
    for row in table:
        sheet.append([row[column] for column in COLUMNS])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def as_html(ctx: Context, table: list[dict[str, str]], now: datetime) -> str:
    """Through the report template (``report.html``): summary lines and one table."""
    report = Report(
        kind="soa",
        title="Statement of Applicability",
        organisation=ctx.org.name,
        period=now.astimezone(ctx.org.zone).date().isoformat(),
        generated=when(now, ctx.org.zone),
        summary=summary(table),
        sections=[],
        charts=[],
        tables=[Table("Controls", COLUMNS, table)],
    )
    return ctx.templates.html("report.html", report=report)


def summary(table: list[dict[str, str]]) -> list[str]:
    annex = sum(1 for row in table if row["source"] == "Annex A")
    applicable = sum(1 for row in table if row["applicable"] == "yes")
    return [
        f"Annex A controls: {annex}; the organisation's own: {len(table) - annex}",
        f"Applicable: {applicable}; not applicable: {sum(1 for row in table if row['applicable'] == 'no')}; "
        f"not assessed: {sum(1 for row in table if row['applicable'] == 'not assessed')}",
        f"With accepted evidence: {sum(1 for row in table if row['evidence'])}",
        f"Gaps (applicable, no evidence activity): {sum(1 for row in table if row['gap'])}",
    ]


def soa_summary(ctx: Context, actor: Actor, text: str, offset: int | None = None, key: str = "") -> Outcome:
    """``/isms soa``: the counts, then the gaps one page at a time; the command (``key``, not a "More"
    page) also shares the whole SoA as XLSX in the person's DMs, once for a retried ``key``."""
    require(ctx, actor, OVERSEERS, process="RT", what="the Statement of Applicability", attempt=False)
    with ctx.read() as session:
        table = rows(ctx, session)
    gaps = [row for row in table if row["gap"]]
    page = window(len(gaps), offset_of(text) if offset is None else offset)
    footer = "The whole SoA with evidence hashes: isms-bot report soa --format xlsx|csv|html."
    if key:
        filename = _share(ctx, actor, table, key)
        footer = (
            f"The whole SoA with evidence hashes ({filename}) is on its way to your direct messages."
            if filename
            else "The whole SoA is larger than the bot shares in chat: "
            "isms-bot report soa --format xlsx --out soa.xlsx writes it."
        )
    return Outcome(
        reply=page_message(
            title="Statement of Applicability",
            lines=[
                f"Gap: {row['control']} · {row['name']} · {row['owner'] or 'no owner'}"
                for row in gaps[page.offset : page.offset + page.size]
            ],
            page=page,
            more=MORE,
            name=LIST,
            note="\n".join(summary(table)),
            footer=footer,
        )
    )


def _share(ctx: Context, actor: Actor, table: list[dict[str, str]], key: str) -> str | None:
    """The SoA as XLSX in ``actor``'s DMs, recorded ("soa-shared": file name and SHA-256); its name,
    or None when it is too large to share in chat (then nothing is shared or recorded)."""
    now = ctx.clock()
    filename = dated_name("statement-of-applicability", "SoA", now, ctx.org.zone, "xlsx")
    with ctx.work(actor) as work:
        if work.once(f"rt.soa:{key}"):
            digest = share_each(
                work,
                [(Recipient.person(actor.id), f"rt.soa:{key}"[:200])],
                filename=filename,
                content=as_xlsx(table),
                title="Statement of Applicability",
                comment="\n".join(summary(table)),
            )
            if digest is None:
                return None
            work.record("RT", "soa-shared", ("soa", filename), {"to": actor.id, "file": filename, "sha256": digest})
    return filename
