"""Files handed in as evidence: what Slack told us at once, and their SHA-256 once fetched.

A workflow never downloads anything. Submitting queues one ``slack.file`` effect per file; the Slack
adapter's sender (integrations/slack_files.py) asks files.info, downloads the content with the bot
token and answers with its size and SHA-256. A tick copies those answers into ``evidence_files`` and
records them, so the hash of every evidence file sits in the tamper-evident log.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models.evidence import EvidenceFile, EvidenceRequest, EvidenceSubmission
from storage.models.outbox import OutboxEffect
from storage.outbox import DEAD, SENT
from workflows.evidence.forms import FileRef
from workflows.kernel.actors import SYSTEM
from workflows.kernel.work import Context, Work

FILE_KIND = "slack.file"


def file_key(file_id: int) -> str:
    return f"evidence-file:{file_id}"


Fetched = tuple[str, dict[str, object] | None, str | None]
"""What became of one fetch: the outbox status (sent or dead), the sender's answer, the last error."""


def fetch(work: Work, key: str, slack_file_id: str) -> None:
    """Queue fetching and hashing one Slack file (evidence, a policy document) under ``key``."""
    work.effect(FILE_KIND, key, {"file_id": slack_file_id, "max_bytes": work.ctx.org.activities.max_file_bytes})


def fetched(session: Session, keys: list[str]) -> dict[str, Fetched]:
    """The fetches of ``keys`` that ended (sent, or given up), by key; those still waiting are absent."""
    rows = session.execute(
        select(OutboxEffect.key, OutboxEffect.status, OutboxEffect.result, OutboxEffect.last_error).where(
            OutboxEffect.key.in_(keys), OutboxEffect.status.in_((SENT, DEAD))
        )
    )
    return {key: (status, result, error) for key, status, result, error in rows}


def attach_files(work: Work, submission: EvidenceSubmission, files: list[FileRef]) -> list[dict[str, object]]:
    """Store the files of a submission and queue fetching each; returns what the record shows."""
    shown: list[dict[str, object]] = []
    for ref in files:
        row = EvidenceFile(submission_id=submission.id, slack_file_id=ref.id, name=ref.name, size=ref.size)
        work.session.add(row)
        work.session.flush()
        fetch(work, file_key(row.id), ref.id)
        shown.append({"slack_file_id": ref.id, "name": ref.name, "size": ref.size})
    return shown


def collect_file_hashes(ctx: Context) -> int:
    """Copy fetched sizes and hashes (or why fetching failed) into ``evidence_files``; record each."""
    with ctx.read() as session:
        waiting = list(
            session.scalars(
                select(EvidenceFile.id)
                .where(EvidenceFile.fetched_at.is_(None), EvidenceFile.fetch_error.is_(None))
                .limit(1000)
            )
        )
        if not waiting:
            return 0
        finished = fetched(session, [file_key(i) for i in waiting])
    if not finished:
        return 0
    with ctx.work(SYSTEM) as work:
        for file_id in waiting:
            outcome = finished.get(file_key(file_id))
            if outcome is not None:
                _store(work, file_id, *outcome)
    return len(finished)


def _store(work: Work, file_id: int, status: str, result: dict[str, object] | None, error: str | None) -> None:
    row = work.session.get(EvidenceFile, file_id)
    if row is None or row.fetched_at is not None or row.fetch_error is not None:
        return
    request = work.session.scalar(
        select(EvidenceRequest)
        .join(EvidenceSubmission, EvidenceSubmission.request_id == EvidenceRequest.id)
        .where(EvidenceSubmission.id == row.submission_id)
    )
    assert request is not None
    data: dict[str, object] = {"file": row.slack_file_id, "submission": row.submission_id}
    if status == SENT and result:
        row.name = str(result.get("name") or row.name or "")[:255] or None
        size = result.get("size")
        row.size = size if isinstance(size, int) else row.size
        row.sha256 = str(result["sha256"]) if result.get("sha256") else None
        row.fetched_at = work.now
        work.record(
            request.process,
            "file-hashed",
            ("evidence", request.ref),
            {**data, "name": row.name, "size": row.size, "sha256": row.sha256},
        )
        return
    row.fetch_error = (error or "could not be fetched")[:500]
    work.record(request.process, "file-not-fetched", ("evidence", request.ref), {**data, "error": row.fetch_error})
