pragma circom 2.0.0;

// TRANSFER in the zk ledger: one transfer takes the state from old_root to new_root.
// The specification it matches, rule for rule, is src/l2gpu/core/zk/transfer.py;
// the leaf layout is src/l2gpu/core/zk/state.py's: Poseidon([ax, ay, balance, nonce]).
//
// Public: old_root and new_root, two inputs rather than one hash of both. A single
// transfer is a building block, not what L1 verifies: the batch circuit will hash its
// whole public data (roots, fees, the transactions for data availability) into one
// public input, and a hash here would cost Poseidon constraints for nothing.
//
// Every leaf field the circuit writes is range checked (Num2Bits), so that no value
// wraps around the field: an amount of p - 1 would otherwise be a credit of 1. The
// fields it reads from old leaves were range checked when they were written (every
// leaf of the tree is an account the ledger created or a circuit updated).

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/eddsaposeidon.circom";
include "circomlib/circuits/poseidon.circom";
include "merkle.circom";

template AccountLeaf() {
    signal input ax;
    signal input ay;
    signal input balance;
    signal input nonce;
    signal output leaf;

    component hash = Poseidon(4);
    hash.inputs[0] <== ax;
    hash.inputs[1] <== ay;
    hash.inputs[2] <== balance;
    hash.inputs[3] <== nonce;
    leaf <== hash.out;
}

template Transfer(depth) {
    signal input old_root;
    signal input new_root;

    signal input from_index;
    signal input to_index;
    signal input amount;
    signal input fee;
    signal input nonce;
    signal input R8x;
    signal input R8y;
    signal input S;

    signal input sender_ax;
    signal input sender_ay;
    signal input sender_balance;
    signal input sender_nonce;
    signal input sender_path[depth];
    // The receiver as it is after the sender's update (itself when to == from).
    signal input receiver_ax;
    signal input receiver_ay;
    signal input receiver_balance;
    signal input receiver_nonce;
    signal input receiver_path[depth];

    // Rule 1: indices are leaves of the tree, amount and fee below 2^128.
    component from_bits = Num2Bits(depth);
    from_bits.in <== from_index;
    component to_bits = Num2Bits(depth);
    to_bits.in <== to_index;
    component amount_bits = Num2Bits(128);
    amount_bits.in <== amount;
    component fee_bits = Num2Bits(128);
    fee_bits.in <== fee;

    // Rule 2: the amount is not zero.
    component zero_amount = IsZero();
    zero_amount.in <== amount;
    zero_amount.out === 0;

    // Rule 3: the sender's key signed the transfer, with the sender's nonce.
    component message = Poseidon(6);
    message.inputs[0] <== 1;  // TRANSFER_TAG
    message.inputs[1] <== from_index;
    message.inputs[2] <== to_index;
    message.inputs[3] <== amount;
    message.inputs[4] <== fee;
    message.inputs[5] <== nonce;
    component signature = EdDSAPoseidonVerifier();
    signature.enabled <== 1;
    signature.Ax <== sender_ax;
    signature.Ay <== sender_ay;
    signature.S <== S;
    signature.R8x <== R8x;
    signature.R8y <== R8y;
    signature.M <== message.out;
    nonce === sender_nonce;

    // The sender's leaf is under old_root (a nonzero Poseidon digest: an account).
    component sender_old = AccountLeaf();
    sender_old.ax <== sender_ax;
    sender_old.ay <== sender_ay;
    sender_old.balance <== sender_balance;
    sender_old.nonce <== sender_nonce;
    component old_path = MerkleRoot(depth);
    old_path.leaf <== sender_old.leaf;
    old_path.bits <== from_bits.out;
    old_path.siblings <== sender_path;
    old_path.root === old_root;

    // Rule 4: the sender pays amount + fee (a negative result would wrap to a value
    // far above 2^128) and uses its nonce (below 2^32 afterwards).
    signal sender_new_balance <== sender_balance - amount - fee;
    component sender_balance_bits = Num2Bits(128);
    sender_balance_bits.in <== sender_new_balance;
    signal sender_new_nonce <== sender_nonce + 1;
    component sender_nonce_bits = Num2Bits(32);
    sender_nonce_bits.in <== sender_new_nonce;
    component sender_new = AccountLeaf();
    sender_new.ax <== sender_ax;
    sender_new.ay <== sender_ay;
    sender_new.balance <== sender_new_balance;
    sender_new.nonce <== sender_new_nonce;
    // The intermediate root: the sender's path is unchanged by its own update.
    component middle_path = MerkleRoot(depth);
    middle_path.leaf <== sender_new.leaf;
    middle_path.bits <== from_bits.out;
    middle_path.siblings <== sender_path;

    // Rule 5: the receiver's leaf is under the intermediate root, and its balance
    // plus amount stays below 2^128.
    component receiver_old = AccountLeaf();
    receiver_old.ax <== receiver_ax;
    receiver_old.ay <== receiver_ay;
    receiver_old.balance <== receiver_balance;
    receiver_old.nonce <== receiver_nonce;
    component receiver_path_old = MerkleRoot(depth);
    receiver_path_old.leaf <== receiver_old.leaf;
    receiver_path_old.bits <== to_bits.out;
    receiver_path_old.siblings <== receiver_path;
    receiver_path_old.root === middle_path.root;

    signal receiver_new_balance <== receiver_balance + amount;
    component receiver_balance_bits = Num2Bits(128);
    receiver_balance_bits.in <== receiver_new_balance;
    component receiver_new = AccountLeaf();
    receiver_new.ax <== receiver_ax;
    receiver_new.ay <== receiver_ay;
    receiver_new.balance <== receiver_new_balance;
    receiver_new.nonce <== receiver_nonce;
    component new_path = MerkleRoot(depth);
    new_path.leaf <== receiver_new.leaf;
    new_path.bits <== to_bits.out;
    new_path.siblings <== receiver_path;
    new_path.root === new_root;
}
