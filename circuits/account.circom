pragma circom 2.0.0;

// The zk ledger's building blocks shared by every slot of a batch: the account leaf
// (src/l2gpu/core/zk/state.py), leaf indices, big-endian field bits for the public
// data (src/l2gpu/core/zk/pubdata.py) and float40 amounts.

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/poseidon.circom";

// Poseidon([ax, ay, balance, nonce, eth_address]), an account's leaf.
template AccountLeaf() {
    signal input ax;
    signal input ay;
    signal input balance;
    signal input nonce;
    signal input eth_address;
    signal output leaf;

    component hash = Poseidon(5);
    hash.inputs[0] <== ax;
    hash.inputs[1] <== ay;
    hash.inputs[2] <== balance;
    hash.inputs[3] <== nonce;
    hash.inputs[4] <== eth_address;
    leaf <== hash.out;
}

// `in` as `n` bits, most significant first (the public data's byte order), which
// also range checks it below 2^n. Only for n well below 254: a wider value could
// have two decompositions.
template BigEndian(n) {
    signal input in;
    signal output out[n];

    component bits = Num2Bits(n);
    bits.in <== in;
    for (var i = 0; i < n; i++) {
        out[i] <== bits.out[n - 1 - i];
    }
}

// A field element as 256 bits, most significant first, with one decomposition only
// (Num2Bits_strict: below p), as a 32-byte root of the public data.
template FieldBytes() {
    signal input in;
    signal output out[256];

    component bits = Num2Bits_strict();
    bits.in <== in;
    out[0] <== 0;
    out[1] <== 0;
    for (var i = 0; i < 254; i++) {
        out[2 + i] <== bits.out[253 - i];
    }
}

// A 3-byte leaf index of the public data: its 24 bits (most significant first, for
// the hash) and the `depth` path bits from the leaf up (for MerkleRoot). The bits
// above depth must be zero: the index is a leaf of the tree.
template LeafIndex(depth) {
    signal input in;
    signal output bytes[24];
    signal output path[depth];

    assert(depth <= 24);
    component bits = Num2Bits(24);
    bits.in <== in;
    for (var i = 0; i < 24; i++) {
        bytes[i] <== bits.out[23 - i];
    }
    for (var i = 0; i < depth; i++) {
        path[i] <== bits.out[i];
    }
    for (var i = depth; i < 24; i++) {
        bits.out[i] === 0;
    }
}

// The amount of a 40-bit float code `exponent << 35 | mantissa`: mantissa * 10^exponent.
// 10^exponent is a multiplexer per exponent bit (10^(2^i) where the bit is set, else
// 1): five products, cheaper than a 32-way selector.
template Float40() {
    signal input code;
    signal output bytes[40];
    signal output amount;

    component bits = Num2Bits(40);
    bits.in <== code;
    for (var i = 0; i < 40; i++) {
        bytes[i] <== bits.out[39 - i];
    }
    var mantissa = 0;
    for (var i = 0; i < 35; i++) {
        mantissa += bits.out[i] * (1 << i);
    }
    signal power[6];
    power[0] <== 1;
    var ten = 10;
    for (var i = 0; i < 5; i++) {
        power[i + 1] <== power[i] * (1 + bits.out[35 + i] * (ten - 1));
        ten = ten * ten;
    }
    amount <== mantissa * power[5];
}
