"""What the command-line tests share: running ``l2gpu`` in process, and checking that
a refused command said one clear line."""

from __future__ import annotations

import pytest

from l2gpu.cli.main import main


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``l2gpu *args``: its exit code, standard output and standard error."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def refused(result: tuple[int, str, str], *words: str) -> str:
    """The one-line error of a refused command (exit 2, no traceback), holding ``words``."""
    code, out, err = result
    assert code == 2, (code, out, err)
    for text in (out, err):
        assert "Traceback" not in text, text
        assert "internal error" not in text, text
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]
