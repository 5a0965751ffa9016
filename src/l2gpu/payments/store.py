"""Durable store of the best voucher per channel (the payee's and the watcher's memory).

``offer`` keeps a voucher only if it is higher than the stored one, inside one
database transaction, so concurrent writers (a payee and a restarted payee, two
agents) never replace a higher voucher with a lower one, and a crash after
``offer`` returns loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.types import Address, ChainId, Hash32, Wei
from l2gpu.db.models import BestVoucher, encode_wei


class VoucherStore:
    """Best vouchers by channel id, in the l2gpu database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def offer(
        self, voucher: Voucher, *, chain_id: ChainId, manager: Address, at: datetime | None = None
    ) -> bool:
        """Store ``voucher`` if it beats the stored one; return True if it was stored."""
        # Two writers may both find no row and both insert; the loser retries and
        # then sees the winner's row (row locks cannot lock a row that is absent).
        for attempt in range(3):
            try:
                return self._offer_once(voucher, chain_id, manager, at)
            except IntegrityError:
                if attempt == 2:
                    raise
        return False  # pragma: no cover - the loop returns or raises

    def _offer_once(
        self, voucher: Voucher, chain_id: ChainId, manager: Address, at: datetime | None
    ) -> bool:
        with Session(self.engine) as session, session.begin():
            query = select(BestVoucher).where(BestVoucher.channel_id == bytes(voucher.channel_id))
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update()
            row = session.scalars(query).one_or_none()
            if row is not None and int(row.amount) >= voucher.amount:
                return False
            stamp = at or datetime.now(UTC)
            if row is None:
                session.add(
                    BestVoucher(
                        channel_id=bytes(voucher.channel_id),
                        chain_id=chain_id,
                        manager=bytes(manager),
                        amount=encode_wei(voucher.amount),
                        signature=voucher.signature,
                        updated_at=stamp,
                    )
                )
            else:
                row.amount = encode_wei(voucher.amount)
                row.signature = voucher.signature
                row.updated_at = stamp
            return True

    def best(self, channel_id: Hash32) -> Voucher | None:
        """The stored voucher for ``channel_id``, if any."""
        with Session(self.engine) as session:
            row = session.get(BestVoucher, bytes(channel_id))
            return None if row is None else _voucher(row)

    def all(self, *, chain_id: ChainId, manager: Address) -> Iterator[Voucher]:
        """Every stored voucher of one manager contract."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(BestVoucher).where(
                    BestVoucher.chain_id == chain_id, BestVoucher.manager == bytes(manager)
                )
            ).all()
        return iter([_voucher(row) for row in rows])


def _voucher(row: BestVoucher) -> Voucher:
    return Voucher(Hash32(row.channel_id), Wei(int(row.amount)), bytes(row.signature))
