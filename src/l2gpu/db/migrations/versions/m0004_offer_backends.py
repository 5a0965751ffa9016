"""market offers' backends and images; a job's image.

- ``market_offers.backend``: how the provider's agent runs jobs (local, container,
  ray), as signed in the offer; ``local`` for the offers published before;
- ``market_offers.images``: the container images its jobs may ask for (patterns);
- ``market_jobs.image``: the image a renter asked for (``rent --image``).

Revision ID: m0004
Revises: m0003
Create Date: 2026-12-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m0004"
down_revision = "m0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns."""
    op.add_column(
        "market_offers",
        sa.Column("backend", sa.String(16), nullable=False, server_default="local"),
    )
    op.add_column(
        "market_offers", sa.Column("images", sa.String(512), nullable=False, server_default="")
    )
    op.add_column("market_jobs", sa.Column("image", sa.String(255), nullable=True))


def downgrade() -> None:
    """Drop them."""
    op.drop_column("market_jobs", "image")
    op.drop_column("market_offers", "images")
    op.drop_column("market_offers", "backend")
