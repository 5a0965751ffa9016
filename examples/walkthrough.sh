#!/usr/bin/env bash
# A renter's and a provider's first day, with every part a separate process: an L1
# (anvil, from 'make devnet'), the rollup node, the market, a provider's agent and a
# renter. tests/cli/test_walkthrough.py runs this file as it is, so it works as written.
#
#   make devnet                       # in another terminal: anvil on 127.0.0.1:8545
#   bash examples/walkthrough.sh      # from the repository, after 'make install'
#
# Accounts: each command signs with the key in L2GPU_PRIVATE_KEY (or --keystore FILE
# before the command; 'l2gpu config new-key FILE' makes one). The keys below are anvil's
# public development keys, funded on anvil only: never use them anywhere else.
set -euo pipefail

L1=${L1:-http://127.0.0.1:8545}
NODE_PORT=${NODE_PORT:-8600}
MARKET_PORT=${MARKET_PORT:-8700}
WORK=${WORK:-$(mktemp -d)}
OPERATOR=${OPERATOR:-0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80}
RENTER=${RENTER:-0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d}
PROVIDER=${PROVIDER:-0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a}
L2GPU=${L2GPU:-.venv/bin/l2gpu}
NODE=http://127.0.0.1:$NODE_PORT
MARKET=http://127.0.0.1:$MARKET_PORT
export L2GPU_L1_RPC=$L1

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
wait_for() {  # URL: until it answers (a real process starting)
  for _ in $(seq 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done
  echo "$1 did not answer" >&2; return 1
}

# 1. The operator runs the rollup node (its key proposes batches and bonds them). The
#    challenge window is 7 days by default; on a devnet, shorten it.
L2GPU_PRIVATE_KEY=$OPERATOR L2GPU_DATA_DIR=$WORK/operator L2GPU_API_PORT=$NODE_PORT \
  $L2GPU up --challenge-window 60s >"$WORK/node.log" 2>&1 &
pids+=($!)
wait_for "$NODE/l2/status"

# 2. Renter and provider move ether into the rollup (an L1 deposit each).
L2GPU_PRIVATE_KEY=$RENTER $L2GPU l2 deposit "0.1 ether" --node "$NODE"
L2GPU_PRIVATE_KEY=$PROVIDER $L2GPU l2 deposit "0.01 ether" --node "$NODE"

# 3. The market: it checks every lease's channel in the rollup before the lease starts.
L2GPU_DATA_DIR=$WORK/market L2GPU_API_PORT=$MARKET_PORT \
  $L2GPU market serve --node "$NODE" >"$WORK/market.log" 2>&1 &
pids+=($!)
wait_for "$MARKET/health"

# 4. The provider's agent: publishes its GPUs (declared here: this machine has none),
#    runs each lease's job in a sandbox and is paid every second.
L2GPU_PRIVATE_KEY=$PROVIDER L2GPU_DATA_DIR=$WORK/provider \
  $L2GPU provider up --api-url "$MARKET" --node "$NODE" --gpus RTX_4090:1 \
  --price "0.000001 ether" >"$WORK/provider.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  OFFER=$($L2GPU offers search "gpu_name=RTX_4090" --api-url "$MARKET" --json |
    python3 -c 'import json, sys; o = json.load(sys.stdin); print(o[0]["id"] if o else "")')
  [ -n "$OFFER" ] && break
  sleep 0.2
done
echo "offer $OFFER"

# 5. The renter rents it for a minute at most: a channel opens, a voucher goes every
#    second, the job's output streams back, and the channel closes at the end.
L2GPU_PRIVATE_KEY=$RENTER L2GPU_DATA_DIR=$WORK/renter \
  $L2GPU rent "$OFFER" --api-url "$MARKET" --node "$NODE" --hours 0.02 \
  --cmd 'echo hello from the job; sleep 3' --max-price "0.000001 ether"
L2GPU_PRIVATE_KEY=$RENTER $L2GPU jobs list --api-url "$MARKET"

# 6. The provider takes its earnings to L1: a withdrawal, final after the challenge
#    window (here 60 s of devnet time, moved on with anvil's time travel), then a claim.
L2GPU_PRIVATE_KEY=$PROVIDER $L2GPU l2 balance --node "$NODE"
L2GPU_PRIVATE_KEY=$PROVIDER $L2GPU l2 withdraw "0.001 ether" --node "$NODE"
for _ in $(seq 300); do  # until the batch holding the withdrawal is on L1
  curl -sf "$NODE/l2/status" | python3 -c \
    'import json, sys; sys.exit(json.load(sys.stdin)["batches_waiting_for_l1"] != 0)' && break
  sleep 0.2
done
curl -sf -X POST -H 'Content-Type: application/json' "$L1" \
  -d '{"jsonrpc":"2.0","id":1,"method":"evm_increaseTime","params":[61]}' >/dev/null
curl -sf -X POST -H 'Content-Type: application/json' "$L1" \
  -d '{"jsonrpc":"2.0","id":2,"method":"evm_mine","params":[]}' >/dev/null
for _ in $(seq 60); do  # final once L1's clock has passed the window
  CLAIMED=$(L2GPU_PRIVATE_KEY=$PROVIDER $L2GPU l2 withdraw --claim --node "$NODE" --json)
  case $CLAIMED in *'"amount"'*) break ;; esac
  sleep 0.5
done
echo "$CLAIMED"
echo "walkthrough done"
