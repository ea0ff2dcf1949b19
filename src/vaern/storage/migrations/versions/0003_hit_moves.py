"""hit moves: what a unit was told about a hit before its person moved to another unit

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hit_moves',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('hit_id', sa.Integer(), nullable=False),
    sa.Column('from_unit', sa.String(length=100), nullable=True),
    sa.Column('to_unit', sa.String(length=100), nullable=True),
    sa.Column('moved_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('excerpt', sa.Text(), nullable=False),
    sa.Column('matched_text', sa.JSON(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('hit_moves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hit_moves_hit_id'), ['hit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hit_moves_from_unit'), ['from_unit'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('hit_moves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hit_moves_from_unit'))
        batch_op.drop_index(batch_op.f('ix_hit_moves_hit_id'))
    op.drop_table('hit_moves')
