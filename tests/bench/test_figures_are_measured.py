"""No benchmark figure is a constant: every number a suite reports is computed from
what it ran (issue #14: a figure fixed at 0 was reported as a lease's L1 gas)."""

from __future__ import annotations

import ast
from pathlib import Path

import l2gpu.bench

BENCH = Path(l2gpu.bench.__file__).parent


def _literal_number(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp):  # -1
        node = node.operand
    return (isinstance(node, ast.Constant) and isinstance(node.value, int | float)
            and not isinstance(node.value, bool))  # fmt: skip


FIGURE_NAMES = {"figures", "result", "results"}


def _reported(tree: ast.AST) -> list[ast.Dict]:
    """Dict literals a suite reports: returned, or bound to a name like ``figures``
    (request bodies and keyword dicts are not figures)."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Return) and isinstance(node.value, ast.Dict)) or (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and isinstance(node.value, ast.Dict)
            and any(
                isinstance(t, ast.Name) and t.id in FIGURE_NAMES
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            )
        ):
            found.append(node.value)
    return found


def constant_figures(source: str) -> list[str]:
    """The keys of reported dicts (and ``figures[key] = ...``) whose value is a number
    written in the code."""
    tree = ast.parse(source)
    found = [str(key.value)
             for report in _reported(tree)
             for key, value in zip(report.keys, report.values, strict=True)
             if isinstance(key, ast.Constant) and _literal_number(value)]  # fmt: skip
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _literal_number(node.value):
            for target in node.targets:
                if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                        and target.value.id in FIGURE_NAMES
                        and isinstance(target.slice, ast.Constant)):  # fmt: skip
                    found.append(str(target.slice.value))
    return sorted(found)


def test_the_check_catches_a_constant_figure() -> None:
    bad = ('def run():\n    figures = {"suite": "x", "n": 2}\n    figures["lag"] = 3\n'
           '    return {"gas": 0, **figures}\n')  # fmt: skip
    assert constant_figures(bad) == ["gas", "lag", "n"]
    good = ('def run(n):\n    post({"wait": 5})\n'
            '    return {"gas": n * 2, "suite": "x", "ok": True}\n')  # fmt: skip
    assert constant_figures(good) == []


def test_no_suite_reports_a_number_written_in_its_code() -> None:
    offenders = {
        path.name: found
        for path in sorted(BENCH.glob("*.py"))
        if (found := constant_figures(path.read_text()))
    }
    assert offenders == {}, f"figures fixed in the code, not measured: {offenders}"
