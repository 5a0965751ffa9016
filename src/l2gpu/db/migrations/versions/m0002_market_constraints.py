"""market constraints: what must hold under concurrent requests, as unique indexes.

- ``market_leases.channel_id`` (unique): a channel pays for one lease;
- ``market_leases.channel_verified``: the provider's agent found the channel open
  and funded on its rail (only such leases count in the provider's record);
- ``market_sessions.nonce`` (unique): one signed sign-in message, one session;
- ``(market_job_logs.lease_id, seq)`` (unique): log chunks in one order.

Rows written before this revision are carried over: the channel id is read from
each lease's channel description (a channel that two leases share, which only a
race could have written, keeps it on the first lease), and the log chunks of a
lease whose sequence numbers collide are renumbered in the order they were stored.

Revision ID: m0002
Revises: m0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m0002"
down_revision = "m0001"
branch_labels = None
depends_on = None

_leases = sa.table(
    "market_leases",
    sa.column("lease_id", sa.BigInteger()),
    sa.column("channel", sa.JSON()),
    sa.column("channel_id", sa.String(66)),
)
_logs = sa.table(
    "market_job_logs",
    sa.column("id", sa.BigInteger()),
    sa.column("lease_id", sa.BigInteger()),
    sa.column("seq", sa.BigInteger()),
)


def upgrade() -> None:
    """Add the columns, carry the old rows over, then create the unique indexes."""
    op.add_column("market_leases", sa.Column("channel_id", sa.String(66), nullable=True))
    op.add_column(
        "market_leases",
        sa.Column("channel_verified", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("market_sessions", sa.Column("nonce", sa.String(64), nullable=True))
    bind = op.get_bind()
    _fill_channel_ids(bind)
    _renumber_colliding_logs(bind)
    op.create_index("uq_market_leases_channel_id", "market_leases", ["channel_id"], unique=True)
    op.create_index("uq_market_sessions_nonce", "market_sessions", ["nonce"], unique=True)
    op.create_index(
        "uq_market_job_logs_lease_seq", "market_job_logs", ["lease_id", "seq"], unique=True
    )


def _fill_channel_ids(bind: sa.Connection) -> None:
    seen: set[str] = set()
    rows = bind.execute(sa.select(_leases.c.lease_id, _leases.c.channel).order_by("lease_id"))
    for lease_id, channel in rows.all():
        channel_id = str((channel or {}).get("channel_id") or "").lower() or None
        if channel_id is None or channel_id in seen:
            continue
        seen.add(channel_id)
        bind.execute(
            sa.update(_leases).where(_leases.c.lease_id == lease_id).values(channel_id=channel_id)
        )


def _renumber_colliding_logs(bind: sa.Connection) -> None:
    colliding = bind.execute(
        sa.select(_logs.c.lease_id)
        .group_by(_logs.c.lease_id, _logs.c.seq)
        .having(sa.func.count() > 1)
        .distinct()
    ).scalars()
    for lease_id in list(colliding):
        ids = bind.execute(
            sa.select(_logs.c.id).where(_logs.c.lease_id == lease_id).order_by(_logs.c.id)
        ).scalars()
        for seq, row_id in enumerate(list(ids), start=1):
            bind.execute(sa.update(_logs).where(_logs.c.id == row_id).values(seq=seq))


def downgrade() -> None:
    """Drop the indexes and columns."""
    op.drop_index("uq_market_job_logs_lease_seq", "market_job_logs")
    op.drop_index("uq_market_sessions_nonce", "market_sessions")
    op.drop_index("uq_market_leases_channel_id", "market_leases")
    with op.batch_alter_table("market_sessions") as batch:
        batch.drop_column("nonce")
    with op.batch_alter_table("market_leases") as batch:
        batch.drop_column("channel_verified")
        batch.drop_column("channel_id")
