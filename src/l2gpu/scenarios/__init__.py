"""Scenarios: whole flows of the system run in one process, for the demo, the
benchmarks and the tests. The CLI only parses their options.

- :mod:`l2gpu.scenarios.demo`: ``l2gpu demo``, composed of the scenarios below.
- :mod:`l2gpu.scenarios.stream`: a lease streamed over an L1 payment channel.
- :mod:`l2gpu.scenarios.hybrid`: a lease over a channel inside the rollup, and a
  fraud round.
- :mod:`l2gpu.scenarios.market`: the GPU market end to end, with a real job.
- :mod:`l2gpu.scenarios.embedded_rollup`: a deployed Rollup with its node served on
  loopback.
- :mod:`l2gpu.scenarios.arena`: a rollup with a proposer that lies and an honest
  watcher (the fraud-proof tests and ``l2gpu bench fraud``).

Scenarios sit under ``bench`` and over the services (``docs/architecture.md``).
"""
