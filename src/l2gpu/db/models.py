"""Tables of l2gpu, as SQLAlchemy 2 declarative models.

Amounts of wei exceed 64 bits, and SQLite has no exact decimal type, so they are
stored as text of exactly 78 digits (zero-padded): exact everywhere, and ordered
correctly by a plain string comparison in SQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

WEI_DIGITS = 78  # 2**256 has 78 decimal digits


def encode_wei(amount: int) -> str:
    """Wei as 78 zero-padded decimal digits."""
    if not 0 <= amount < 10**WEI_DIGITS:
        raise ValueError(f"amount {amount} does not fit in {WEI_DIGITS} digits")
    return str(amount).zfill(WEI_DIGITS)


class Base(DeclarativeBase):
    """Base of every l2gpu table."""


class BestVoucher(Base):
    """The highest voucher a payee holds for one channel (what a restart must not lose)."""

    __tablename__ = "best_vouchers"

    channel_id: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    manager: Mapped[bytes] = mapped_column(LargeBinary(20))
    amount: Mapped[str] = mapped_column(String(WEI_DIGITS))
    signature: Mapped[bytes] = mapped_column(LargeBinary(65))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RollupLog(Base):
    """The sequencer's write-ahead log: every input it acknowledged, in order."""

    __tablename__ = "rollup_log"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
