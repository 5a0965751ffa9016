"""market: providers, offers, leases, jobs, job logs, sign-in nonces and sessions.

Revision ID: m0001
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m0001"
down_revision = "0002"
branch_labels = None
depends_on = None

WEI = sa.String(78)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the market's tables."""
    big = sa.BigInteger
    op.create_table(
        "market_providers",
        sa.Column("address", sa.LargeBinary(20), primary_key=True),
        sa.Column("first_seen", big(), nullable=False),
        sa.Column("last_heartbeat", big(), nullable=False),
        sa.Column("inventory", sa.JSON(), nullable=False),
        *[
            sa.Column(name, big(), nullable=False)
            for name in (
                "leases",
                "failed_starts",
                "preempted",
                "seconds_promised",
                "seconds_delivered",
                "heartbeats_expected",
                "heartbeats_seen",
            )
        ],
    )
    op.create_table(
        "market_offers",
        sa.Column("offer_id", big(), primary_key=True, autoincrement=False),
        sa.Column("provider", sa.LargeBinary(20), nullable=False, index=True),
        sa.Column("chain_id", big(), nullable=False),
        sa.Column("gpu_name", sa.String(64), nullable=False),
        sa.Column("num_gpus", sa.Integer(), nullable=False),
        *[
            sa.Column(name, big(), nullable=False)
            for name in ("gpu_ram_gb", "cpu_cores", "ram_gb", "disk_gb", "bandwidth_mbps")
        ],
        sa.Column("location", sa.String(16), nullable=False),
        sa.Column("price_per_gpu_second", WEI, nullable=False),
        sa.Column("min_duration", big(), nullable=False),
        sa.Column("max_duration", big(), nullable=False),
        sa.Column("expires_at", big(), nullable=False),
        sa.Column("declared", sa.Boolean(), nullable=False),
        sa.Column("nonce", big(), nullable=False),
        sa.Column("signature", sa.LargeBinary(65), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", big(), nullable=False),
    )
    op.create_index("ix_market_offers_status_expires", "market_offers", ["status", "expires_at"])
    op.create_table(
        "market_leases",
        sa.Column("lease_id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("offer_id", big(), sa.ForeignKey("market_offers.offer_id"), nullable=False),
        sa.Column("renter", sa.LargeBinary(20), nullable=False, index=True),
        sa.Column("provider", sa.LargeBinary(20), nullable=False, index=True),
        sa.Column("num_gpus", sa.Integer(), nullable=False),
        sa.Column("price_per_gpu_second", WEI, nullable=False),
        sa.Column("max_seconds", big(), nullable=False),
        sa.Column("requested_at", big(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("started_at", big(), nullable=True),
        sa.Column("ended_at", big(), nullable=True),
        sa.Column("metered_seconds", big(), nullable=False),
        sa.Column("paid", WEI, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("channel", sa.JSON(), nullable=False),
        sa.Column("voucher_amount", WEI, nullable=False),
        sa.Column("voucher_signature", sa.LargeBinary(65), nullable=True),
        sa.Column("voucher_at", big(), nullable=True),
    )
    op.create_table(
        "market_jobs",
        sa.Column(
            "lease_id",
            big(),
            sa.ForeignKey("market_leases.lease_id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("env", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("created_at", big(), nullable=False),
    )
    op.create_table(
        "market_job_logs",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("lease_id", big(), nullable=False, index=True),
        sa.Column("seq", big(), nullable=False),
        sa.Column("at", big(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_table(
        "market_auth_nonces",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("issued_at", big(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "market_sessions",
        sa.Column("token_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("address", sa.LargeBinary(20), nullable=False, index=True),
        sa.Column("expires_at", big(), nullable=False),
    )


def downgrade() -> None:
    """Drop the market's tables."""
    for table in (
        "market_sessions",
        "market_auth_nonces",
        "market_job_logs",
        "market_jobs",
        "market_leases",
        "market_offers",
        "market_providers",
    ):
        op.drop_table(table)
