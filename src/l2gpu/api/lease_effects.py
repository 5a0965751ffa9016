"""Carrying out the lease machine's events in the market's database.

:class:`~l2gpu.api.leases.LeaseBook` turns a request, an agent's report or the
clock into one input of the core's lease machine
(:func:`l2gpu.core.market.lease.state_transition`); this module writes what the
events that come back say, in the caller's database transaction, so that a lease
and everything it moves (its offer, its provider's record, its job) change together
or not at all. Nothing here compares a lease before and after an input: a change
that no event names is not written.

=================  ==============================================================
event              effect
=================  ==============================================================
``StatusChanged``  the lease row's status, reason and times; a job that started
                   runs and loses its secrets; a lease that ended puts its offer
                   back, counts in its provider's record and closes its job
``Metered``        the lease row's billed seconds
``VoucherKept``    the voucher relayed to the provider (amount, signature, time)
``ChannelVerified`` the lease row's ``channel_verified``
``GpuSeen``        the lease row's ``gpu_active_at`` (for ``rent --idle-stop``)
``StopJob``        nothing to write: the agent stops the job when the lease leaves
                   its ``/agent/leases`` (a final status does that)
``InputIgnored``   nothing to write: the caller answers with the reason
=================  ==============================================================
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from l2gpu.api.offers import OfferBook
from l2gpu.api.records import record_of, store_record
from l2gpu.core.market import lease as lm
from l2gpu.core.market.reputation import record_lease
from l2gpu.db.market_models import JobRow, LeaseRow, OfferRow, Provider
from l2gpu.db.models import encode_wei

JOB_STATUS_AT_END = {lm.LeaseStatus.ENDED: "ended", lm.LeaseStatus.FAILED: "failed"}
"""What a job that was pending or running becomes when its lease ends (else ``lost``)."""


class LeaseEffects:
    """Writes the events of the lease machine; ``offers`` is the book whose offers a
    lease takes and gives back."""

    def __init__(self, offers: OfferBook) -> None:
        self.offers = offers

    def carry_out(
        self, session: Session, row: LeaseRow, lease: lm.Lease, events: list[lm.LeaseEvent]
    ) -> list[str]:
        """Carry out ``events``, which turned the lease stored in ``row`` into ``lease``,
        inside ``session``'s transaction; return the reasons of the inputs ignored."""
        ignored: list[str] = []
        for event in events:
            match event:
                case lm.StatusChanged():
                    self.status_changed(session, row, lease, event)
                case lm.Metered():
                    row.metered_seconds = event.total
                case lm.VoucherKept():
                    record_voucher(row, event)
                case lm.ChannelVerified():
                    row.channel_verified = True
                case lm.GpuSeen():
                    row.gpu_active_at = event.at
                case lm.StopJob():
                    pass  # the lease's final status takes it off the agent's work
                case lm.InputIgnored():
                    ignored.append(event.reason)
        return ignored

    def status_changed(
        self, session: Session, row: LeaseRow, lease: lm.Lease, event: lm.StatusChanged
    ) -> None:
        """Write the new status with the times and reason the machine set with it."""
        row.status = event.new.value
        row.reason = lease.reason
        row.started_at = lease.started_at
        row.ended_at = lease.ended_at
        if event.new == lm.LeaseStatus.RUNNING:
            job = session.get(JobRow, row.lease_id)
            if job is not None:
                job.status, job.secrets = "running", {}  # secrets leave the database
        if event.new.is_final and not event.old.is_final:
            self.lease_over(session, row, lease)

    def lease_over(self, session: Session, row: LeaseRow, lease: lm.Lease) -> None:
        """A lease reached a final status: its offer goes back on the market, it counts
        in its provider's record (if its channel was verified), its job closes."""
        offer = session.get(OfferRow, row.offer_id)
        if offer is not None and offer.status == "leased":
            self.offers.set_status(session, row.offer_id, "active")
        # Only a lease whose channel the agent verified counts: anyone can make up a
        # channel, and a lease on it fails at no cost to its renter.
        # Locked and re-read (the sweep may hold a copy read without a lock): two leases
        # of one provider ending at once must both count.
        provider = session.get(Provider, row.provider, with_for_update=True, populate_existing=True)
        if provider is not None and lease.channel_verified:
            store_record(provider, record_lease(record_of(provider), lease))
            self.offers.changed()
        job = session.get(JobRow, row.lease_id)
        if job is not None:
            job.secrets = {}
            if job.status in ("pending", "running"):
                job.status = JOB_STATUS_AT_END.get(lease.status, "lost")


def record_voucher(row: LeaseRow, event: lm.VoucherKept) -> None:
    """The renter's best voucher so far: what the provider's agent is sent and closes
    the channel with."""
    row.paid = encode_wei(event.amount)
    row.voucher_amount = encode_wei(event.amount)
    row.voucher_signature = event.signature
    row.voucher_at = int(event.at)
