"""Slack requests acknowledged before their workflow ran (see storage/intake.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime

OPEN = text("status IN ('pending', 'running')")


class IntakeRequest(Base):
    """One signed Slack request (command, button, form submission, shortcut), stored before the ack.

    ``key`` is built from Slack's own ids (trigger id, action timestamp, view id and hash), so a Slack
    retry of the same request finds its row and adds none.
    """

    __tablename__ = "slack_intake"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    """command, action, view or shortcut: which listener's payload ``payload`` is."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending (waiting for a worker), running (a worker has it until ``due_at``), done or failed."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """When a worker may take it again: the end of the running worker's lease, or of the wait before a
    retry; none once done or failed."""
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    """Why the last attempt failed, with the ERR- reference the person was given when it was the last."""

    __table_args__ = (
        # The replay after a crash walks only the requests not yet done, oldest first.
        Index("ix_slack_intake_open", "id", postgresql_where=OPEN, sqlite_where=OPEN),
        Index("ix_slack_intake_finished_at", "finished_at"),  # the prune of old requests
    )
