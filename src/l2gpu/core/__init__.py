"""The pure core of l2gpu.

Nothing under ``l2gpu.core`` performs I/O, reads a clock, draws randomness or looks
at the environment: time, block numbers and randomness are passed in. The shells
(``l2gpu.l1``, ``l2gpu.cli`` and those of later stages) turn the world into inputs.
The rule is enforced by import-linter (see ``[tool.importlinter]`` in pyproject.toml).
"""
