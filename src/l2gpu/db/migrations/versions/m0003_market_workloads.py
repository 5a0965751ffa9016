"""market workloads: stored archives (a job's folder, files downloaded from one) and
download requests; a job's archive.

- ``market_blobs``: an archive, by owner and SHA-256, with its expected parts;
  ``market_blob_parts`` its parts (at most 128 KiB each);
- ``market_downloads``: a renter's signed request for files of its lease's folder,
  answered by the provider's agent with a blob;
- ``market_jobs.archive``, ``archive_size``: the digest and size of the folder the
  job starts in (``rent --dir``);
- ``market_leases.gpu_active_at``: when the agent last saw the job use its GPUs.

Revision ID: m0003
Revises: m0002
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m0003"
down_revision = "m0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the tables and the job's columns."""
    big = sa.BigInteger
    op.create_table(
        "market_blobs",
        sa.Column("blob_id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("owner", sa.LargeBinary(20), nullable=False),
        sa.Column("writer", sa.LargeBinary(20), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", big(), nullable=False),
        sa.Column("parts", big(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("created_at", big(), nullable=False),
        sa.Column("used_at", big(), nullable=False),
    )
    op.create_index("ix_market_blobs_owner_kind_sha", "market_blobs", ["owner", "kind", "sha256"])
    op.create_table(
        "market_blob_parts",
        sa.Column("blob_id", big(), primary_key=True, autoincrement=False),
        sa.Column("idx", big(), primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "market_downloads",
        sa.Column("download_id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("lease_id", big(), nullable=False, index=True),
        sa.Column("provider", sa.LargeBinary(20), nullable=False, index=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("issued_at", big(), nullable=False),
        sa.Column("signature", sa.LargeBinary(65), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("blob_id", big(), nullable=True),
        sa.Column("asked_at", big(), nullable=False),
        sa.Column("done_at", big(), nullable=True),
    )
    op.add_column("market_jobs", sa.Column("archive", sa.String(64), nullable=True))
    op.add_column("market_jobs", sa.Column("archive_size", big(), nullable=True))
    op.add_column("market_leases", sa.Column("gpu_active_at", big(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    op.drop_column("market_leases", "gpu_active_at")
    op.drop_column("market_jobs", "archive_size")
    op.drop_column("market_jobs", "archive")
    op.drop_table("market_downloads")
    op.drop_table("market_blob_parts")
    op.drop_index("ix_market_blobs_owner_kind_sha", "market_blobs")
    op.drop_table("market_blobs")
