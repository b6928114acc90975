"""Awareness campaigns (AWR) and the policy register (POL).

A campaign is one row; each person it reaches is one assignment row with the index of its next
reminder step and when that is due (``next_action_at``, indexed), so a tick reads only what is due,
however many people a campaign has. A policy keeps every version it ever had, with who wrote it, who
decided on it and the acknowledgement campaign it started.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class Campaign(Base):
    """A training or a policy acknowledgement asked of an audience by a due date."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    link: Mapped[str] = mapped_column(String(500))
    text: Mapped[str | None] = mapped_column(Text)
    policy_id: Mapped[str | None] = mapped_column(String(40))
    policy_version: Mapped[str | None] = mapped_column(String(20))
    audience: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    remind_before: Mapped[list[int]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CampaignAssignment(Base):
    """One person of a campaign's audience: open until they confirm, reminded until then."""

    __tablename__ = "campaign_assignments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    person_id: Mapped[str] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(8), default="open")
    step: Mapped[int] = mapped_column(Integer, default=0)
    next_action_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    invited_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("campaign_id", "person_id", name="uq_campaign_assignments_campaign_person"),
        Index("ix_campaign_assignments_next_action", "next_action_at"),
        Index("ix_campaign_assignments_campaign_status", "campaign_id", "status", "department"),
        Index("ix_campaign_assignments_person_status", "person_id", "status"),
    )


class Policy(Base):
    """One policy of the register; ``version`` is the published one (None before the first approval)."""

    __tablename__ = "policies"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[str] = mapped_column(String(64))
    approver_id: Mapped[str] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(200))
    version: Mapped[str | None] = mapped_column(String(20))
    next_review: Mapped[date] = mapped_column(Date)
    review_asked_for: Mapped[date | None] = mapped_column(Date)
    """The review date an evidence request was created for; another date asks again."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PolicyVersion(Base):
    """A version of a policy, kept for ever with its decision and its acknowledgement campaign."""

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id"))
    version: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    """The details this version proposes for the policy (with ``approver``); they become the policy's
    only when the version is approved, so a pending or rejected version never changes the register."""
    owner_id: Mapped[str] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(200))
    next_review: Mapped[date] = mapped_column(Date)
    link: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64))
    slack_file_id: Mapped[str | None] = mapped_column(String(64))
    """The document shared in Slack with the form; its SHA-256 is filled in once the outbox fetched it."""
    file_error: Mapped[str | None] = mapped_column(String(500))
    author: Mapped[str] = mapped_column(String(128))
    approver: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    comment: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))

    __table_args__ = (UniqueConstraint("policy_id", "version", name="uq_policy_versions_policy_version"),)
