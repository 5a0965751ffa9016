pragma circom 2.0.0;

// The zk ledger's Merkle path, as src/l2gpu/core/zk/state.py computes it: a binary
// tree whose parent is Poseidon([left, right]).

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/switcher.circom";

// The root that `leaf` hashes up to along `siblings` (from the leaf up). `bits[i]`
// set means the node at height i is a right child; the caller gets the bits from
// Num2Bits(depth) of the leaf's index, which also makes them binary (Switcher
// assumes so).
template MerkleRoot(depth) {
    signal input leaf;
    signal input bits[depth];
    signal input siblings[depth];
    signal output root;

    signal node[depth + 1];
    component order[depth];
    component parent[depth];
    node[0] <== leaf;
    for (var i = 0; i < depth; i++) {
        // One multiplication puts the node and its sibling in order.
        order[i] = Switcher();
        order[i].sel <== bits[i];
        order[i].L <== node[i];
        order[i].R <== siblings[i];
        parent[i] = Poseidon(2);
        parent[i].inputs[0] <== order[i].outL;
        parent[i].inputs[1] <== order[i].outR;
        node[i + 1] <== parent[i].out;
    }
    root <== node[depth];
}
