"""A step stalled on the network never lets a job run unmetered (the chaos test: 27.2 s
served, 17 s metered and paid, while the market and the rollup node restarted).

The agent runs as the daemon does (``run()``, in a thread); its market hangs in the
middle of a step, and the simulated clock moves on second by second. The meter goes
on all the same: every second the job ran is metered, and the payee, whose vouchers
no longer arrive, pauses and then stops the job within the grace period.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from l2gpu.core.channel.stream import ServiceState
from tests.agent.test_agent import World

HANG_S = 12  # simulated seconds the market hangs: past the grace, and past its double


def until(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Whether ``check`` holds within ``seconds`` of real time (polled, bounded)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)  # a short poll of another thread's progress, never a second
    return True


def test_a_market_that_hangs_mid_step_never_leaves_a_second_unmetered(tmp_path: Path) -> None:
    world = World(tmp_path)
    agent = world.agent
    payer = world.rent("sleep 120")
    agent.step()  # starts the job
    for _ in range(3):
        world.second(payer)
    lease_id = payer.info.id
    served = agent.served[lease_id]

    def stopped_by_payee() -> bool:  # a job stopped is sampled no more
        return served.payee.service == ServiceState.STOPPED

    def sampled() -> bool:  # the meter saw the job at the clock's second (only we move it)
        return served.last_tick == world.clock() or stopped_by_payee()

    assert served.meter.seconds == 3
    hang, hung = threading.Event(), threading.Event()
    heartbeat = agent.client.heartbeat

    def hanging(*args: Any, **kwargs: Any) -> Any:  # the market takes the call, then hangs
        hung.set()
        hang.wait(60)  # bounded: released by the test
        return heartbeat(*args, **kwargs)

    agent.client.heartbeat = hanging  # type: ignore[method-assign]
    stop = threading.Event()
    loop = threading.Thread(target=agent.run, args=(stop, 0.01), name="agent-loop", daemon=True)
    loop.start()
    try:
        world.clock.advance(1)  # a new second: the next step's heartbeat hangs
        assert until(hung.is_set), "the agent's loop never reached the market"
        # The step's own pass for this second was over before its heartbeat hung.
        assert until(sampled)
        metered, running, ran, states = served.meter.seconds, not served.paused, 0, []
        for second in range(1, HANG_S + 1):
            ran += running  # the job runs through this second, or does not
            world.clock.advance(1)
            # Each second is sampled though the loop still waits on the market.
            assert until(sampled), f"second {second} of the hang: the job ran unmetered"
            with agent._lock:  # free once the meter's pass (sample, then verdict) is over
                stopped, paused = stopped_by_payee(), served.paused
            running = not (stopped or paused)
            states.append("stopped" if stopped else "paused" if paused else "ran")
        assert loop.is_alive()  # the loop was stuck all along
        assert not hang.is_set()
        # Every second the job ran was metered, not only max_gap of them.
        assert served.meter.seconds - metered == ran
        # No voucher reached the agent: its payee paused the job, then stopped it.
        assert "paused" in states, states
        assert states[-1] == "stopped", states
        assert served.max_unpaid_seconds <= agent.grace
        hang.set()  # the market answers again: the loop tells it and ends the lease
        assert until(lambda: lease_id not in agent.served), "the lease was never finished"
    finally:
        hang.set()
        stop.set()
        loop.join(10)
        agent.shutdown()
    assert not loop.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "l2gpu-meter"]  # ended with run()
    assert agent.backend.status(lease_id).state == "exited"
