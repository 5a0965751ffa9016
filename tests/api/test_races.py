"""Concurrent requests against a real server on both databases: whatever the
interleaving, one signed message gives one token, one channel pays for one lease,
one offer is leased once, and log chunks get distinct sequence numbers."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from l2gpu.core.market.signin import parse_message, sign_message
from l2gpu.db.market_models import JobLog
from tests.api.helpers import at_once, channel, login, offer_body, served
from tests.market.helpers import PROVIDER, RENTER

THREADS = 8


def test_one_signed_message_gives_exactly_one_token(database_url) -> None:
    with served(database_url) as (base, _service, _clock), httpx.Client(base_url=base) as http:
        for _ in range(3):  # a few rounds: each is a fresh chance to interleave
            issued = http.post("/auth/nonce", json={"address": RENTER.address.checksum}).json()
            signature = sign_message(RENTER, parse_message(issued["message"]))
            body = {"message": issued["message"], "signature": "0x" + signature.hex()}
            replies = at_once(base, [("POST", "/auth/login", body, {})] * THREADS)
            statuses = sorted(r.status_code for r in replies)
            assert statuses == [200] + [401] * (THREADS - 1), statuses
            refused = next(r for r in replies if r.status_code == 401).json()
            assert "nonce is unknown, used or expired" in refused["error"]


def test_one_channel_pays_for_exactly_one_lease(database_url) -> None:
    with served(database_url) as (base, _service, _clock), httpx.Client(base_url=base) as http:
        provider, renter = login(http, PROVIDER), login(http, RENTER)
        offers = []
        for nonce in range(THREADS):
            reply = http.post("/offers", json=offer_body(PROVIDER, nonce=nonce), headers=provider)
            assert reply.status_code == 201, reply.text
            offers.append(reply.json()["id"])
        for _ in range(2):
            shared = channel(RENTER, PROVIDER.address, 10**18)
            requests = [
                (
                    "POST",
                    "/leases",
                    {
                        "offer_id": offer,
                        "duration": 60,
                        "job": {"command": "true"},
                        "channel": shared,
                    },
                    renter,
                )
                for offer in offers
            ]
            replies = at_once(base, requests)
            statuses = sorted(r.status_code for r in replies)
            assert statuses == [201] + [409] * (THREADS - 1), statuses
            refused = next(r for r in replies if r.status_code == 409).json()
            assert "already pays for lease" in refused["error"]
            for reply in replies:  # free the offer for the next round
                if reply.status_code == 201:
                    http.post(f"/leases/{reply.json()['id']}/stop", headers=renter)
        leases = http.get("/leases", headers=renter).json()
        assert len(leases) == 2
        assert len({lease["channel"]["channel_id"] for lease in leases}) == 2


def test_one_offer_is_leased_exactly_once(database_url) -> None:
    with served(database_url) as (base, _service, _clock), httpx.Client(base_url=base) as http:
        provider, renter = login(http, PROVIDER), login(http, RENTER)
        offer = http.post("/offers", json=offer_body(PROVIDER), headers=provider).json()["id"]
        requests = [
            (
                "POST",
                "/leases",
                {
                    "offer_id": offer,
                    "duration": 60,
                    "job": {"command": "true"},
                    "channel": channel(RENTER, PROVIDER.address, 10**18),
                },
                renter,
            )
            for _ in range(THREADS)
        ]
        statuses = sorted(r.status_code for r in at_once(base, requests))
        assert statuses == [201] + [409] * (THREADS - 1), statuses


def test_log_chunks_sent_at_once_get_distinct_sequence_numbers(database_url) -> None:
    with served(database_url) as (base, service, _clock), httpx.Client(base_url=base) as http:
        provider, renter = login(http, PROVIDER), login(http, RENTER)
        offer = http.post("/offers", json=offer_body(PROVIDER), headers=provider).json()["id"]
        lease = http.post(
            "/leases",
            headers=renter,
            json={
                "offer_id": offer,
                "duration": 60,
                "job": {"command": "true"},
                "channel": channel(RENTER, PROVIDER.address, 10**18),
            },
        ).json()["id"]
        path = f"/agent/leases/{lease}/logs"
        requests = [("POST", path, {"chunks": [f"line {i}\n"]}, provider) for i in range(THREADS)]
        replies = at_once(base, requests)
        assert [r.status_code for r in replies] == [200] * THREADS
        assert sorted(r.json()["seq"] for r in replies) == list(range(1, THREADS + 1))
        with Session(service.engine) as session:
            seqs = session.scalars(select(JobLog.seq).where(JobLog.lease_id == lease)).all()
        assert sorted(seqs) == list(range(1, THREADS + 1))


def test_the_migration_carries_rows_written_before_the_constraints(
    database_url, monkeypatch
) -> None:
    """A database that a race already hurt (one channel under two leases, two log chunks
    with one number) migrates: the first lease keeps the channel, the chunks are renumbered
    in the order they were stored, and the new unique indexes then hold."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from l2gpu.db import engine as db

    def to_m0001(engine: sa.Engine) -> None:
        config = Config()
        config.set_main_option("script_location", str(db.MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "m0001")

    monkeypatch.setattr(db, "migrate", to_m0001)
    url, schema = database_url
    engine = db.open_database(url, schema=schema)
    monkeypatch.undo()
    cid = "0x" + "ab" * 32
    columns = {
        "market_offers": "offer_id provider chain_id gpu_name num_gpus gpu_ram_gb cpu_cores "
        "ram_gb disk_gb bandwidth_mbps location price_per_gpu_second min_duration max_duration "
        "expires_at declared nonce signature status created_at",
        "market_leases": "lease_id offer_id renter provider num_gpus price_per_gpu_second "
        "max_seconds requested_at status metered_seconds paid reason channel voucher_amount",
        "market_job_logs": "id lease_id seq at text",
    }
    tables = {
        name: sa.table(
            name, *(sa.column(c, sa.JSON() if c == "channel" else None) for c in cols.split())
        )
        for name, cols in columns.items()
    }
    wei = "0" * 78
    with engine.begin() as connection:
        connection.execute(
            sa.insert(tables["market_offers"]).values(
                offer_id=1, provider=b"\x01" * 20, chain_id=1, gpu_name="T4", num_gpus=1,
                gpu_ram_gb=16, cpu_cores=1, ram_gb=1, disk_gb=1, bandwidth_mbps=1, location="EU",
                price_per_gpu_second=wei, min_duration=1, max_duration=9, expires_at=9,
                declared=False, nonce=0, signature=b"\x00" * 65, status="active", created_at=0,
            )
        )  # fmt: skip
        for lease_id, channel in ((1, {"channel_id": cid}), (2, {"channel_id": cid}), (3, {})):
            connection.execute(
                sa.insert(tables["market_leases"]).values(
                    lease_id=lease_id, offer_id=1, renter=b"\x02" * 20, provider=b"\x01" * 20,
                    num_gpus=1, price_per_gpu_second=wei, max_seconds=9, requested_at=0,
                    status="ended", metered_seconds=0, paid=wei, reason="", channel=channel,
                    voucher_amount=wei,
                )
            )  # fmt: skip
        for row_id, seq in ((1, 1), (2, 2), (3, 2), (4, 3)):
            connection.execute(
                sa.insert(tables["market_job_logs"]).values(
                    id=row_id, lease_id=1, seq=seq, at=0, text=f"chunk {row_id}"
                )
            )
    db.migrate(engine)
    with engine.begin() as connection:
        leases = connection.execute(
            sa.text("SELECT lease_id, channel_id, channel_verified FROM market_leases")
        ).all()
        logs = connection.execute(
            sa.text("SELECT seq, text FROM market_job_logs ORDER BY seq")
        ).all()
    assert sorted((r[0], r[1], bool(r[2])) for r in leases) == [
        (1, cid, False),
        (2, None, False),
        (3, None, False),
    ]
    assert [tuple(r) for r in logs] == [(i, f"chunk {i}") for i in range(1, 5)]
