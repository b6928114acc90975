"""The records log tables: append-only records, hash-chained by the linker, and their seals
(see storage/records.py and docs/records.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, FetchedValue, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime


class Record(Base):
    """One result of an ISMS process, as an auditor will read it.

    ``seq`` is given by the database (PostgreSQL: the ``records_seq`` sequence, behind a default that
    first assigns the transaction id; SQLite: the rowid). ``prev_hash`` and ``hash`` stay empty until
    the linker chains the record (``storage.records.link_pending``).
    """

    __tablename__ = "records"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, server_default=FetchedValue()
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    process: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[str | None] = mapped_column(Text)
    data_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    retain_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_records_subject", "subject_type", "subject_id"),
        Index("ix_records_process_at", "process", "at"),
        Index("ix_records_retain_until", "retain_until"),
        Index(
            "ix_records_unlinked",
            "seq",
            postgresql_where=text("hash IS NULL"),
            sqlite_where=text("hash IS NULL"),
        ),
    )


class RecordSeal(Base):
    """An Ed25519 signature over the chain head (seq, hash) at a time, made with ISMS_RECORDS_KEY."""

    __tablename__ = "record_seals"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))

    __table_args__ = (Index("ix_record_seals_seq", "seq"),)
