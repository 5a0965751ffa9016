pragma circom 2.0.0;

// DEPOSIT in the zk ledger, one slot of a batch: the specification it matches is
// src/l2gpu/core/zk/deposit.py; the slot's bytes are pubdata.py's
// index (3) | ax (32) | ay (32) | eth_address (20) | amount (16).
//
// L1 writes the deposit section, so every content of it must be provable: the slot
// never refuses, it applies or skips. It applies when the key is a canonical Baby
// Jubjub point, the leaf is empty (a new account: balance amount, nonce 0) or holds
// an account with the same key and address (balance += amount), and the new balance
// stays below 2^128; otherwise the state is unchanged. Index 0 is a no-op (all zeros).
//
// Each 32-byte key coordinate comes in as two 128-bit halves: L1 may queue any 256
// bits, and a field element cannot hold a value of p or more.

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/compconstant.circom";
include "account.circom";
include "merkle.circom";

// The 32-byte value hi * 2^128 + lo: its 256 bits (most significant first), its
// value mod p, and whether it is below p (a canonical field element).
template Coordinate() {
    signal input hi;
    signal input lo;
    signal output bytes[256];
    signal output value;
    signal output canonical;

    component high = BigEndian(128);
    high.in <== hi;
    component low = BigEndian(128);
    low.in <== lo;
    for (var i = 0; i < 128; i++) {
        bytes[i] <== high.out[i];
        bytes[128 + i] <== low.out[i];
    }
    value <== hi * (1 << 128) + lo;
    // Below p: the top two bits are 0 and the other 254 are at most p - 1.
    component above = CompConstant(21888242871839275222246405745257275088548364400416034343698204186575808495616);
    for (var i = 0; i < 254; i++) {
        above.in[i] <== bytes[255 - i];
    }
    signal low254 <== (1 - above.out) * (1 - bytes[1]);
    canonical <== low254 * (1 - bytes[0]);
}

template DepositSlot(depth) {
    signal input root_in;
    signal output root_out;
    signal output bytes[824];

    // The slot's public data (from L1's queue).
    signal input index;
    signal input ax_hi;
    signal input ax_lo;
    signal input ay_hi;
    signal input ay_lo;
    signal input eth_address;
    signal input amount;
    // The witnesses: the leaf as it is (is_empty, or an account's fields) and its path.
    signal input is_empty;
    signal input account_ax;
    signal input account_ay;
    signal input account_balance;
    signal input account_nonce;
    signal input account_address;
    signal input path[depth];

    component index_bits = LeafIndex(depth);
    index_bits.in <== index;
    component ax = Coordinate();
    ax.hi <== ax_hi;
    ax.lo <== ax_lo;
    component ay = Coordinate();
    ay.hi <== ay_hi;
    ay.lo <== ay_lo;
    component address_bits = BigEndian(160);
    address_bits.in <== eth_address;
    component amount_bits = BigEndian(128);
    amount_bits.in <== amount;
    for (var i = 0; i < 24; i++) {
        bytes[i] <== index_bits.bytes[i];
    }
    for (var i = 0; i < 256; i++) {
        bytes[24 + i] <== ax.bytes[i];
        bytes[280 + i] <== ay.bytes[i];
    }
    for (var i = 0; i < 160; i++) {
        bytes[536 + i] <== address_bits.out[i];
    }
    for (var i = 0; i < 128; i++) {
        bytes[696 + i] <== amount_bits.out[i];
    }

    // A no-op (index 0) is all zeros (six values below 2^160: their sum cannot wrap).
    component noop = IsZero();
    noop.in <== index;
    noop.out * (ax_hi + ax_lo + ay_hi + ay_lo + eth_address + amount) === 0;

    // The key is a point of Baby Jubjub: a x^2 + y^2 = 1 + d x^2 y^2.
    signal x2 <== ax.value * ax.value;
    signal y2 <== ay.value * ay.value;
    signal x2y2 <== x2 * y2;
    component on_curve = IsZero();
    on_curve.in <== 168700 * x2 + y2 - 1 - 168696 * x2y2;
    signal canonical <== ax.canonical * ay.canonical;
    signal valid_key <== canonical * on_curve.out;

    // The leaf as it is: 0 when empty (the prover cannot claim an account's leaf is
    // empty, nor open an empty one as an account: that needs a Poseidon preimage of 0).
    is_empty * (is_empty - 1) === 0;
    component old_leaf = AccountLeaf();
    old_leaf.ax <== account_ax;
    old_leaf.ay <== account_ay;
    old_leaf.balance <== account_balance;
    old_leaf.nonce <== account_nonce;
    old_leaf.eth_address <== account_address;
    signal leaf_before <== (1 - is_empty) * old_leaf.leaf;
    component old_path = MerkleRoot(depth);
    old_path.leaf <== leaf_before;
    old_path.bits <== index_bits.path;
    old_path.siblings <== path;
    old_path.root === root_in;

    // The same owner: key and address equal to the account's.
    component same_x = IsEqual();
    same_x.in[0] <== account_ax;
    same_x.in[1] <== ax.value;
    component same_y = IsEqual();
    same_y.in[0] <== account_ay;
    same_y.in[1] <== ay.value;
    component same_address = IsEqual();
    same_address.in[0] <== account_address;
    same_address.in[1] <== eth_address;
    signal same_key <== same_x.out * same_y.out;
    signal same_owner <== same_key * same_address.out;
    signal owner_ok <== is_empty + (1 - is_empty) * same_owner;

    // The new balance (an empty leaf starts at 0) stays below 2^128: both terms are
    // below 2^128, so the sum has 129 bits and its top bit says it overflows.
    signal base_balance <== (1 - is_empty) * account_balance;
    signal base_nonce <== (1 - is_empty) * account_nonce;
    signal new_balance <== base_balance + amount;
    component balance_bits = Num2Bits(129);
    balance_bits.in <== new_balance;

    signal applies_key <== (1 - noop.out) * valid_key;
    signal applies_owner <== applies_key * owner_ok;
    signal applies <== applies_owner * (1 - balance_bits.out[128]);

    component new_leaf = AccountLeaf();
    new_leaf.ax <== ax.value;
    new_leaf.ay <== ay.value;
    new_leaf.balance <== new_balance;
    new_leaf.nonce <== base_nonce;
    new_leaf.eth_address <== eth_address;
    component new_path = MerkleRoot(depth);
    new_path.leaf <== leaf_before + applies * (new_leaf.leaf - leaf_before);
    new_path.bits <== index_bits.path;
    new_path.siblings <== path;
    root_out <== new_path.root;
}
