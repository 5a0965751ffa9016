"""best_vouchers: the payee's highest voucher per channel.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create best_vouchers."""
    op.create_table(
        "best_vouchers",
        sa.Column("channel_id", sa.LargeBinary(32), primary_key=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("manager", sa.LargeBinary(20), nullable=False),
        sa.Column("amount", sa.String(78), nullable=False),
        sa.Column("signature", sa.LargeBinary(65), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop best_vouchers."""
    op.drop_table("best_vouchers")
