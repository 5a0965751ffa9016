"""Fuzzing what a peer hands over signed: vouchers, cooperative-close approvals (through
the channel machine, whose named error is ChannelError, and the provider's payee) and
L2 transaction envelopes. Signer recovery never raises: a malformed signature, amount
or channel id gives None."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from l2gpu.core.channel import ChannelError, ChannelParams, ManagerState, state_transition
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.stream import PayeeState, VoucherReceived, payee_transition
from l2gpu.core.channel.vouchers import (
    Voucher,
    channel_domain,
    cooperative_close_signer,
    sign_cooperative_close,
    sign_voucher,
)
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.l2.codec import CodecError, decode_tx, encode_tx, kind_of
from l2gpu.core.l2.envelope import Envelope, rollup_domain, seal
from l2gpu.core.types import Address, ChainId, Hash32, Seconds, Timestamp, Wei
from tests.fuzz.support import edges, fuzz, mutated, outcome, unsigned
from tests.fuzz.test_codec import ANY_TX

RENTER, PROVIDER = PrivateKey((11).to_bytes(32, "big")), PrivateKey((12).to_bytes(32, "big"))
T0 = Timestamp(1_800_000_000)
PARAMS = ChannelParams(RENTER.address, PROVIDER.address, challenge_period=Seconds(100))
CID = PARAMS.id
EMPTY = ManagerState(ChainId(5), Address(b"\x44" * 20))
DOMAIN = channel_domain(EMPTY.chain_id, EMPTY.contract)
OPENED, _ = state_transition(
    EMPTY, ci.Open(RENTER.address, T0, PARAMS, Wei(1000), Timestamp(T0 + 3600), Wei(1000))
)
GOOD = sign_voucher(RENTER, DOMAIN, CID, Wei(500))

anything = st.one_of(st.none(), st.booleans(), st.floats(), st.text(max_size=5))
amounts = st.one_of(edges(256), edges(128), st.just(500))
channel_ids = st.one_of(
    st.just(CID), st.binary(min_size=32, max_size=32).map(Hash32), st.binary(max_size=40), anything
)
signatures = st.one_of(
    st.just(GOOD.signature), st.binary(max_size=80), mutated(GOOD.signature), anything
)


@fuzz(400)
@given(channel_ids, st.one_of(amounts, anything), signatures)
def test_voucher_signer_of_anything(channel_id: object, amount: object, signature: object) -> None:
    voucher = Voucher(channel_id, amount, signature)  # type: ignore[arg-type]
    signer = voucher.signer(DOMAIN)
    assert signer is None or isinstance(signer, Address)
    if signer == RENTER.address:
        assert (channel_id, amount) == (CID, 500)
    approver = cooperative_close_signer(DOMAIN, channel_id, amount, signature)  # type: ignore[arg-type]
    assert approver is None or isinstance(approver, Address)


@fuzz(100)
@given(st.binary(min_size=32, max_size=32).map(Hash32), unsigned(256).map(Wei))
def test_vouchers_round_trip_through_json(channel_id: Hash32, amount: Wei) -> None:
    voucher = sign_voucher(RENTER, DOMAIN, channel_id, amount)
    data = voucher.to_json()
    again = Voucher(
        Hash32.from_hex(str(data["channel_id"])),
        Wei(int(data["amount"])),
        bytes.fromhex(str(data["signature"]).removeprefix("0x")),
    )
    assert again == voucher
    assert again.signer(DOMAIN) == RENTER.address
    approval = sign_cooperative_close(PROVIDER, DOMAIN, channel_id, amount)
    assert cooperative_close_signer(DOMAIN, channel_id, amount, approval) == PROVIDER.address


@fuzz(400)
@given(
    st.sampled_from(["voucher", "provider", "renter", "cooperative"]),
    amounts,
    signatures,
    signatures,
    st.sampled_from([T0, T0 + 3699, T0 + 3700, 2**64 - 1]),
)
def test_channel_machine_of_signed_inputs(
    which: str, amount: int, first: bytes, second: bytes, now: int
) -> None:
    t = Timestamp(now)
    inputs = {
        "voucher": ci.SubmitVoucher(PROVIDER.address, t, PARAMS, Wei(amount), first),
        "provider": ci.CloseByProvider(PROVIDER.address, t, PARAMS, Wei(amount), first),
        "renter": ci.CloseByRenter(RENTER.address, t, PARAMS, Wei(amount)),
        "cooperative": ci.CooperativeClose(PROVIDER.address, t, PARAMS, Wei(amount), first, second),
    }
    outcome(ChannelError, state_transition, OPENED, inputs[which])


@fuzz(300)
@given(channel_ids, st.one_of(amounts, st.integers(-5, 5)), signatures, st.integers(0, 10**6))
def test_payee_of_any_voucher(channel_id: object, amount: int, signature: object, now: int) -> None:
    state = PayeeState(CID, RENTER.address, DOMAIN, Wei(1000), Wei(1))
    voucher = Voucher(channel_id, Wei(amount), signature)  # type: ignore[arg-type]
    state, events = payee_transition(state, VoucherReceived(voucher, Timestamp(now)))
    assert events
    if state.best is not None:
        assert state.best.signer(DOMAIN) == RENTER.address


# -- envelopes ---------------------------------------------------------------------------

ROLLUP_DOMAIN = rollup_domain(ChainId(5), Address(b"\x55" * 20))


@fuzz(200)
@given(ANY_TX, unsigned(64), signatures)
def test_envelope_signer_of_decoded_transactions(tx: object, nonce: int, signature: object) -> None:
    """What the node's API builds: a decoded body, a uint64 nonce, any signature."""
    kind = kind_of(tx)  # type: ignore[arg-type]
    decoded = decode_tx(kind, encode_tx(kind, tx))  # type: ignore[arg-type]
    signer = Envelope(decoded, nonce, signature).signer(ROLLUP_DOMAIN)  # type: ignore[arg-type]
    assert signer is None or isinstance(signer, Address)


@fuzz(200)
@given(ANY_TX, unsigned(64), st.data())
def test_sealed_envelopes_round_trip(tx: object, nonce: int, data: st.DataObject) -> None:
    envelope = seal(RENTER, ROLLUP_DOMAIN, tx, nonce)  # type: ignore[arg-type]
    assert envelope.signer(ROLLUP_DOMAIN) == RENTER.address
    kind = kind_of(envelope.tx)
    body = data.draw(mutated(encode_tx(kind, envelope.tx)))
    other = outcome(CodecError, decode_tx, kind, body)
    if not isinstance(other, CodecError):
        signer = Envelope(other, nonce, envelope.signature).signer(ROLLUP_DOMAIN)
        assert (signer == RENTER.address) == (other == envelope.tx)
