"""Contract builds: the vyper package compiles, the cache keys on content."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2gpu.l1 import CompileError, compile_contract
from l2gpu.l1.build import contracts_root

SOURCE = """# pragma version ~=0.4.3
value: public(uint256)

@deploy
def __init__(_v: uint256):
    self.value = _v
"""


def test_compile_uses_the_cache_until_a_source_changes(tmp_path: Path) -> None:
    root = tmp_path / "contracts"
    root.mkdir()
    (root / "Box.vy").write_text(SOURCE)
    cache = tmp_path / "cache"
    first = compile_contract("Box.vy", cache_dir=cache, root=root)
    assert first.name == "Box"
    assert first.bytecode
    assert len(list((cache / "contracts").glob("Box-*.json"))) == 1
    again = compile_contract("Box.vy", cache_dir=cache, root=root)
    assert again == first
    (root / "Box.vy").write_text(SOURCE.replace("_v: uint256", "_v: uint256, _w: uint256"))
    changed = compile_contract("Box.vy", cache_dir=cache, root=root)
    assert changed.source_hash != first.source_hash
    assert len(next(i for i in changed.abi if i["type"] == "constructor")["inputs"]) == 2
    assert len(list((cache / "contracts").glob("Box-*.json"))) == 2


MODULE = """# pragma version ~=0.4.3
START: constant(uint256) = 1
"""

INTERFACE = """@external
@view
def value() -> uint256:
    ...
"""

USER = """# pragma version ~=0.4.3
from lib import start
from lib import IBox
implements: IBox
value: public(uint256)

@deploy
def __init__():
    self.value = start.START
"""


def test_a_change_to_an_imported_module_or_interface_rebuilds(tmp_path: Path) -> None:
    # The cache key must cover what a contract imports, not only its own file:
    # otherwise editing a module would silently reuse the build made before.
    root = tmp_path / "contracts"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "start.vy").write_text(MODULE)
    (root / "lib" / "IBox.vyi").write_text(INTERFACE)
    (root / "Box.vy").write_text(USER)
    cache = tmp_path / "cache"
    first = compile_contract("Box.vy", cache_dir=cache, root=root)
    (root / "lib" / "start.vy").write_text(MODULE.replace("= 1", "= 2"))
    after_module = compile_contract("Box.vy", cache_dir=cache, root=root)
    assert after_module.source_hash != first.source_hash
    assert after_module.bytecode != first.bytecode
    (root / "lib" / "IBox.vyi").write_text(INTERFACE + "\n# the interface changed\n")
    after_interface = compile_contract("Box.vy", cache_dir=cache, root=root)
    assert after_interface.source_hash != after_module.source_hash
    assert len(list((cache / "contracts").glob("Box-*.json"))) == 3


def test_a_damaged_cache_entry_is_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "contracts"
    root.mkdir()
    (root / "Box.vy").write_text(SOURCE)
    cache = tmp_path / "cache"
    first = compile_contract("Box.vy", cache_dir=cache, root=root)
    for entry in (cache / "contracts").glob("*.json"):
        entry.write_text("{not json")
    assert compile_contract("Box.vy", cache_dir=cache, root=root) == first


def test_compile_errors_name_the_file(tmp_path: Path) -> None:
    root = tmp_path / "contracts"
    root.mkdir()
    (root / "Bad.vy").write_text("# pragma version ~=0.4.3\n@external\ndef f() -> uint256:\n")
    with pytest.raises(CompileError, match="Bad.vy does not compile"):
        compile_contract("Bad.vy", root=root)
    with pytest.raises(CompileError, match="no contract Missing.vy.*known: Bad.vy"):
        compile_contract("Missing.vy", root=root)


def test_the_project_contracts_compile() -> None:
    for path in sorted(contracts_root().rglob("*.vy")):
        relative = str(path.relative_to(contracts_root()))
        if "/interfaces/" in f"/{relative}" or path.name.startswith("_"):
            continue  # interfaces and modules are compiled as part of their users
        assert compile_contract(relative).bytecode
