"""Every state machine of the core answers one shape: TransitionResult(state, events)."""

from __future__ import annotations

from l2gpu.core.channel import ChannelParams, ManagerState
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.machine import state_transition
from l2gpu.core.channel.stream import PayeeState, ServiceDelivered, payee_transition
from l2gpu.core.channel.vouchers import channel_domain
from l2gpu.core.channel.watch import Tick, WatchState, watch_transition
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import Address, ChainId, Hash32, Seconds, Timestamp, Wei

RENTER, PROVIDER = PrivateKey((2).to_bytes(32, "big")), PrivateKey((3).to_bytes(32, "big"))
T0 = Timestamp(1_800_000_000)


def test_the_channel_manager_answers_a_transition_result() -> None:
    params = ChannelParams(RENTER.address, PROVIDER.address, challenge_period=Seconds(100))
    state = ManagerState(ChainId(5), Address(b"\x44" * 20))
    opened = ci.Open(RENTER.address, T0, params, Wei(10), Timestamp(T0 + 60), Wei(10))
    result = state_transition(state, opened)
    assert isinstance(result, TransitionResult)
    assert result.state.get(params.id) is not None
    assert len(result.events) == 1
    new_state, events = result  # callers that unpack keep working
    assert (new_state, events) == (result.state, result.events)


def test_the_watcher_answers_a_transition_result() -> None:
    result = watch_transition(WatchState(), Tick(T0))
    assert isinstance(result, TransitionResult)
    assert result.events == []


def test_the_payee_answers_a_transition_result() -> None:
    domain = channel_domain(ChainId(1), Address(b"\x09" * 20))
    state = PayeeState(Hash32(b"\xaa" * 32), RENTER.address, domain, Wei(10_000), Wei(1_000))
    result = payee_transition(state, ServiceDelivered(3, T0))
    assert isinstance(result, TransitionResult)
    assert result.state.delivered_seconds == 3
