"""A policy document shared in Slack with the form: fetched and hashed by the outbox like evidence
files (``slack.file`` effects, integrations/slack_files.py), its SHA-256 copied onto the version by
the tick and recorded, so the register says exactly which text was approved."""

from __future__ import annotations

from sqlalchemy import select

from storage.models.awareness import PolicyVersion
from storage.outbox import SENT
from workflows.evidence.files import fetch, fetched
from workflows.evidence.forms import FileRef
from workflows.kernel.actors import SYSTEM
from workflows.kernel.work import Context, Work
from workflows.policies.lifecycle import PROCESS_ID


def document_key(version_id: int) -> str:
    return f"policy-file:{version_id}"


def attach_document(work: Work, version: PolicyVersion, document: FileRef) -> None:
    version.slack_file_id = document.id
    fetch(work, document_key(version.id), document.id)


def collect_document_hashes(ctx: Context) -> int:
    """Copy the SHA-256 of fetched documents (or why fetching failed) onto their versions; record each."""
    with ctx.read() as session:
        waiting = list(
            session.scalars(
                select(PolicyVersion.id).where(
                    PolicyVersion.slack_file_id.is_not(None),
                    PolicyVersion.sha256.is_(None),
                    PolicyVersion.file_error.is_(None),
                )
            )
        )
        if not waiting:
            return 0
        finished = fetched(session, [document_key(i) for i in waiting])
    if not finished:
        return 0
    with ctx.work(SYSTEM) as work:
        for version_id in waiting:
            outcome = finished.get(document_key(version_id))
            version = work.session.get(PolicyVersion, version_id)
            if outcome is None or version is None or version.sha256 or version.file_error:
                continue
            status, result, error = outcome
            data: dict[str, object] = {"version": version.version, "slack_file": version.slack_file_id}
            if status == SENT and result and result.get("sha256"):
                version.sha256 = str(result["sha256"])
                work.record(
                    PROCESS_ID, "document-hashed", ("policy", version.policy_id), data | {"sha256": version.sha256}
                )
            else:
                version.file_error = (error or "could not be fetched")[:500]
                work.record(
                    PROCESS_ID,
                    "document-not-fetched",
                    ("policy", version.policy_id),
                    data | {"error": version.file_error},
                )
    return len(finished)
