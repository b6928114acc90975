"""The records log table: append-only and hash-chained (see storage/records.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime


class Record(Base):
    """One result of an ISMS process, as an auditor will read it."""

    __tablename__ = "records"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    process: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[str | None] = mapped_column(Text)
    data_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    retain_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_records_subject", "subject_type", "subject_id"),
        Index("ix_records_process_at", "process", "at"),
        Index("ix_records_retain_until", "retain_until"),
    )
