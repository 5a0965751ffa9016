"""The one shape every state machine of the core returns.

Every machine in ``core/`` has one entry point, ``state_transition(state, input)``,
and answers a :class:`TransitionResult`: the new state and the events the shells
must carry out, in order. It is a ``NamedTuple`` so that a caller can write
``state, events = state_transition(state, inp)`` and a reader sees the field names.

The L2 state transition is the exception that execution-specs also makes: its state
(every account and channel of the rollup) is large, so it changes that state in
place and returns only what the transaction did (``l2.stf.TxEffects``).
"""

from __future__ import annotations

from typing import Generic, NamedTuple, TypeVar

StateT = TypeVar("StateT")
EventT = TypeVar("EventT")


class TransitionResult(NamedTuple, Generic[StateT, EventT]):
    """The state after one input and the events it produced, oldest first."""

    state: StateT
    events: list[EventT]
