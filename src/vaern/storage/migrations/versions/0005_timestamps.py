"""timestamps: every RFC 3161 token owed or obtained (the retry queue, and the record verify checks)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('timestamps',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subject', sa.String(length=20), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('tsa_url', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('token_path', sa.String(length=500), nullable=True),
    sa.Column('token_sha256', sa.String(length=64), nullable=True),
    sa.Column('gen_time', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('timestamps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timestamps_snapshot_id'), ['snapshot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_timestamps_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('timestamps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_timestamps_status'))
        batch_op.drop_index(batch_op.f('ix_timestamps_snapshot_id'))
    op.drop_table('timestamps')
