"""The settlement designs table, read from the committed ``docs/designs.md``.

``make designs-doc`` writes that page from one run of ``l2gpu bench designs --json``;
the JSON itself stays in the ignored ``.cache/``, so the generated Markdown table is
the only committed, machine-written form of the results. It is read as it is: one
column per design, one row per figure, the cells as text (a figure whose cell is a
plain number is also read as a number, for the chart).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from l2gpu.core.errors import L2gpuError

MAX_BYTES = 256 * 1024  # the page is ~6 KB; a larger file is not the generated table
CHARTED = "L1 gas per paid GPU-hour (receipts)"
_NUMBER = re.compile(r"-?\d[\d,]*(\.\d+)?")


@dataclass(frozen=True)
class DesignsTable:
    """The table: design names, rows of (figure, cell per design), and where it came from."""

    source: str
    designs: list[str]
    rows: list[tuple[str, list[str]]]
    workload: str

    def numbers(self, label: str) -> dict[str, float]:
        """The row ``label`` as numbers by design (cells that are not a number left out)."""
        for name, cells in self.rows:
            if name == label:
                return {
                    d: as_number(c)
                    for d, c in zip(self.designs, cells, strict=True)
                    if _NUMBER.fullmatch(c)
                }
        return {}


def as_number(cell: str) -> float:
    """``"9,362.809"`` -> 9362.809."""
    return float(cell.replace(",", ""))


def _cells(line: str) -> list[str]:
    return [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]


def read_designs_table(path: Path) -> DesignsTable:
    """The first table of the designs page at ``path``; an :class:`L2gpuError` saying
    what to do when the file is missing or holds no such table."""
    fix = "run 'make designs-doc' (about 10 minutes) to write docs/designs.md"
    if not path.is_file():
        raise L2gpuError(f"the designs table '{path.name}' was not found", fix)
    if path.stat().st_size > MAX_BYTES:
        raise L2gpuError(
            f"'{path.name}' is over {MAX_BYTES // 1024} KiB: not the designs table", fix
        )
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    workload = next((line for line in lines if line.startswith("Workload:")), "").replace("`", "")
    for start, line in enumerate(lines):
        if line.startswith("| |") and start + 1 < len(lines) and lines[start + 1].startswith("|-"):
            designs = _cells(line)[1:]
            rows = []
            for row in lines[start + 2 :]:
                if not row.startswith("|"):
                    break
                cells = _cells(row)
                if len(cells) == len(designs) + 1:
                    rows.append((cells[0], cells[1:]))
            if designs and rows:
                return DesignsTable(path.name, designs, rows, workload)
    raise L2gpuError(f"'{path.name}' holds no designs table (a row of designs, then figures)", fix)
