# The front door of l2gpu. `make demo` runs the main job; `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TOOLS  := .tools
ANVIL_VERSION := 1.7.1
ANVIL  := $(TOOLS)/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
# The zk mode's toolchain (docs/zk.md): circom 2 as WebAssembly under Node, circomlib's
# templates, snarkjs as the reference prover. A change of version reinstalls all three.
CIRCOM2_VERSION   := 0.2.23
CIRCOMLIB_VERSION := 2.0.5
SNARKJS_VERSION   := 0.7.6
ZK_STAMP := $(TOOLS)/node_modules/.l2gpu-zk-$(CIRCOM2_VERSION)-$(CIRCOMLIB_VERSION)-$(SNARKJS_VERSION)
# The web console's one third-party script (docs/console.md), served by the console itself.
HTMX_VERSION := 2.0.4
HTMX := $(TOOLS)/node_modules/htmx.org/dist/htmx.min.js
PYTEST_ARGS ?=

.PHONY: install demo test lint typecheck imports pytest zk-cache bench lock tools devnet clean designs-doc forecasts-doc fmt vectors poseidon-contracts

install: $(STAMP)

# Reinstall only when the dependency declarations change.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "l2gpu needs Python >= 3.11: run 'make PYTHON=python3.11 ...'"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

# anvil (Foundry's dev node, from the npm registry) is the real JSON-RPC L1 that the
# tests of the JSON-RPC path run against. bubblewrap (bwrap) sandboxes the local
# backend's jobs. Where npm, the platform, or apt-get and root are missing, the tests
# that need them fail and say why (L2GPU_TEST_ALLOW_MISSING=1 turns that into skips).
tools: $(ANVIL) $(ZK_STAMP) $(HTMX)
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -q chromium >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null; } || \
	      echo "warning: could not install chromium; the console's browser tests will fail"; \
	  else echo "note: chromium is missing: install Debian's chromium for the console's" \
	    "browser tests"; fi; }
	@command -v bwrap >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap; } || \
	      echo "warning: could not install bubblewrap; the sandbox tests will fail"; \
	  else echo "note: bubblewrap (bwrap) is missing: install it (apt-get install bubblewrap," \
	    "dnf install bubblewrap); without it the sandbox tests fail and jobs cannot run"; fi; }
$(ANVIL):
	@if command -v npm >/dev/null 2>&1 && [ "$$(uname -s -m)" = "Linux x86_64" ]; then \
	  npm install --silent --no-audit --no-fund --prefix $(TOOLS) \
	    @foundry-rs/anvil-linux-amd64@$(ANVIL_VERSION) || echo "warning: could not install anvil"; \
	else echo "note: npm or linux-x86_64 missing; the JSON-RPC tests against anvil will fail"; fi
$(ZK_STAMP):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-audit --no-fund --save-exact --prefix $(TOOLS) \
	    circom2@$(CIRCOM2_VERSION) circomlib@$(CIRCOMLIB_VERSION) snarkjs@$(SNARKJS_VERSION) && touch $@ || \
	    echo "warning: could not install circom2, circomlib and snarkjs; the zk tests will fail"; \
	else echo "note: npm is missing; the zk tests (circom, circomlib, snarkjs) will fail"; fi

$(HTMX):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-audit --no-fund --save-exact --prefix $(TOOLS) \
	    htmx.org@$(HTMX_VERSION) || echo "warning: could not install htmx; the console's pages refresh as plain forms"; \
	else echo "note: npm is missing; the console's pages refresh as plain forms"; fi

# A persistent dev L1 for the channel commands: anvil on 127.0.0.1:8545.
devnet: tools
	$(ANVIL) --host 127.0.0.1 --port 8545

# The zk demo proves batches with circom circuits: it needs the toolchain too.
demo: install $(if $(filter zk,$(L2GPU_SETTLEMENT)),tools)
	$(BIN)/l2gpu demo

# The checks and the zk cache side by side (two jobs), then the tests: on a new machine
# the suite's large circuits compile while ruff and mypy run, instead of three test
# workers waiting on one circuit's lock (tests/zk/warm_cache.py).
test: install tools
	@$(MAKE) --no-print-directory -j2 -Otarget zk-cache lint typecheck imports
	@$(MAKE) --no-print-directory pytest

lint: install
	$(BIN)/ruff check src tests tools
	$(BIN)/ruff format --check src tests tools

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

pytest: install tools
	$(BIN)/pytest -n 3 --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# Compile the tests' large circuits (cached by content hash: a second run
# returns at once).
zk-cache: install tools
	$(BIN)/python -m tests.zk.warm_cache

bench: install tools
	$(BIN)/l2gpu bench all --json

# Re-resolve the dependency ranges of pyproject.toml and pin the result.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip
	.lock-venv/bin/pip install -q '.[dev]'
	.lock-venv/bin/pip freeze --exclude l2gpu | grep -v '^-e ' > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache build dist

# docs/designs.md and its plot, from one run of the designs benchmark (about 10 minutes).
designs-doc: install tools
	@mkdir -p .cache
	$(BIN)/l2gpu bench designs --json > .cache/designs.json
	$(BIN)/python tools/designs_doc.py .cache/designs.json

# docs/forecasts.md: every built-in series judged by nested backtests (about 6 minutes).
forecasts-doc: install
	$(BIN)/l2gpu forecast report --docs

# Format and fix what ruff can fix by itself (lint is the check of the same).
fmt: install
	$(BIN)/ruff format src tests tools
	$(BIN)/ruff check --fix src tests tools

# Regenerate every vector and snapshot file from the Python specification; review the
# diff before committing it (the tests compare the contracts against these files).
vectors: install
	$(BIN)/python -m tests.channel.runner --write
	$(BIN)/python -m tests.l2.vectors --write
	$(BIN)/l2gpu bench channels --write-gas-snapshot > /dev/null
	$(BIN)/python -m tests.l2.rollup_gas --write > /dev/null

# contracts/zk/PoseidonT3.vy, PoseidonT6.vy and PoseidonT7.vy from the Python Poseidon constants (a test
# checks that the committed files are what this writes).
poseidon-contracts: install
	$(BIN)/python -m l2gpu.zk.poseidon_contract
