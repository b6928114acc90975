"""records: numbered by the database, linked into the chain later; seals

Revision ID: 0005
Revises: 0004

Existing records keep their seq and hashes (the hash scheme is unchanged), so they verify as before.
New records get their seq from the database (PostgreSQL: the sequence ``records_seq``, behind a default
that first makes sure the transaction has an id, see docs/records.md; SQLite: the rowid) and
``prev_hash``/``hash`` only when the linker chains them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ_DEFAULT = "CASE WHEN pg_current_xact_id() IS NOT NULL THEN nextval('records_seq') END"


def upgrade() -> None:
    """Upgrade schema."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.create_index(
            "ix_records_unlinked",
            ["seq"],
            unique=False,
            postgresql_where=sa.text("hash IS NULL"),
            sqlite_where=sa.text("hash IS NULL"),
        )
    if postgresql:
        op.execute("CREATE SEQUENCE records_seq AS bigint OWNED BY records.seq")
        op.execute("SELECT setval('records_seq', max(seq)) FROM records HAVING max(seq) IS NOT NULL")
        op.execute(f"ALTER TABLE records ALTER COLUMN seq SET DEFAULT {SEQ_DEFAULT}")
    op.create_table(
        "record_seals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_seals")),
    )
    with op.batch_alter_table("record_seals", schema=None) as batch_op:
        batch_op.create_index("ix_record_seals_seq", ["seq"], unique=False)


def downgrade() -> None:
    """Downgrade schema (refused while records wait to be linked: the old schema needs their hashes)."""
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM records WHERE hash IS NULL")).scalar():
        raise RuntimeError("records not yet linked: run `isms-bot records link` before downgrading")
    with op.batch_alter_table("record_seals", schema=None) as batch_op:
        batch_op.drop_index("ix_record_seals_seq")
    op.drop_table("record_seals")
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE records ALTER COLUMN seq DROP DEFAULT")
        op.execute("DROP SEQUENCE records_seq")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_unlinked", postgresql_where=sa.text("hash IS NULL"))
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
