"""evidence: complete or not, owed until complete, absence pending a second read

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 03:00:00

- snapshots.complete / incomplete_reason: whether the capture shows every reported mention;
- hits.evidence_owed (+ what for, attempts, the last error): a hit owes evidence until a
  complete snapshot of its page is filed; the debt survives crashes and full disks;
- hits.absent_since / absent_run_id: a page read whole that no longer names the person; the hit
  is removed only when a later crawl's whole read confirms it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("complete", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("incomplete_reason", sa.Text(), nullable=True))

    with op.batch_alter_table("hits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_owed", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("evidence_reason", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("evidence_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("evidence_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("absent_since", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("absent_run_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_hits_evidence_owed"), ["evidence_owed"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hits_evidence_owed"))
        for column in ("absent_run_id", "absent_since", "evidence_error", "evidence_attempts", "evidence_reason",
                       "evidence_owed"):
            batch_op.drop_column(column)

    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_column("incomplete_reason")
        batch_op.drop_column("complete")
