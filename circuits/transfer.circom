pragma circom 2.0.0;

// TRANSFER in the zk ledger. The specification it matches, rule for rule, is
// src/l2gpu/core/zk/transfer.py; the leaf is state.py's
// Poseidon([ax, ay, balance, nonce, eth_address]); the slot's bytes are pubdata.py's
// from (3) | to (3) | amount (5, float40) | fee_code (1).
//
// TransferSlot(depth) is one slot of a batch: from root_in to root_out, with the
// slot's public data bits and its fee as outputs. A slot whose from index is 0 is a
// no-op: its bytes must all be zero, its signature is not checked, and both leaves
// it touches are leaf 0 (empty forever), read as 0 and written as 0, so root_out is
// root_in. Transfer(depth) is one slot on its own, with public old_root and new_root.
//
// Every leaf field the circuit writes is range checked (Num2Bits), so that no value
// wraps around the field. The fields it reads from old leaves were range checked
// when they were written (every leaf is one a circuit wrote).

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/eddsaposeidon.circom";
include "circomlib/circuits/poseidon.circom";
include "account.circom";
include "merkle.circom";

template TransferSlot(depth) {
    signal input root_in;
    signal output root_out;
    signal output fee;
    signal output bytes[96];

    // The slot's public data.
    signal input from_index;
    signal input to_index;
    signal input amount_code;
    signal input fee_code;
    // The witnesses.
    signal input nonce;
    signal input R8x;
    signal input R8y;
    signal input S;
    signal input sender_ax;
    signal input sender_ay;
    signal input sender_balance;
    signal input sender_nonce;
    signal input sender_address;
    signal input sender_path[depth];
    // The receiver as it is after the sender's update (itself when to == from).
    signal input receiver_ax;
    signal input receiver_ay;
    signal input receiver_balance;
    signal input receiver_nonce;
    signal input receiver_address;
    signal input receiver_path[depth];

    // Rule 1: indices are leaves of the tree, the amount a float40 code, the fee
    // code a byte; together the slot's 12 bytes.
    component from_bits = LeafIndex(depth);
    from_bits.in <== from_index;
    component to_bits = LeafIndex(depth);
    to_bits.in <== to_index;
    component amount = Float40();
    amount.code <== amount_code;
    component fee_bits = BigEndian(8);
    fee_bits.in <== fee_code;
    for (var i = 0; i < 24; i++) {
        bytes[i] <== from_bits.bytes[i];
        bytes[24 + i] <== to_bits.bytes[i];
    }
    for (var i = 0; i < 40; i++) {
        bytes[48 + i] <== amount.bytes[i];
    }
    for (var i = 0; i < 8; i++) {
        bytes[88 + i] <== fee_bits.out[i];
    }
    fee <== fee_code * 1000000000000;  // FEE_UNIT_WEI

    // A no-op (from 0) is all zeros (the sum of small non-negative values cannot wrap).
    component noop = IsZero();
    noop.in <== from_index;
    signal active <== 1 - noop.out;
    noop.out * (to_index + amount_code + fee_code) === 0;
    // Index 0 is never an account: not a recipient either.
    component to_zero = IsZero();
    to_zero.in <== to_index;
    active * to_zero.out === 0;

    // Rule 2: the amount is not zero.
    component zero_amount = IsZero();
    zero_amount.in <== amount.amount;
    active * zero_amount.out === 0;

    // Rule 3: the sender's key signed the transfer, with the sender's nonce.
    component message = Poseidon(6);
    message.inputs[0] <== 1;  // TRANSFER_TAG
    message.inputs[1] <== from_index;
    message.inputs[2] <== to_index;
    message.inputs[3] <== amount.amount;
    message.inputs[4] <== fee_code;
    message.inputs[5] <== nonce;
    component signature = EdDSAPoseidonVerifier();
    signature.enabled <== active;
    signature.Ax <== sender_ax;
    signature.Ay <== sender_ay;
    signature.S <== S;
    signature.R8x <== R8x;
    signature.R8y <== R8y;
    signature.M <== message.out;
    nonce === sender_nonce;

    // The sender's leaf is under root_in (a nonzero Poseidon digest: an account; a
    // no-op reads leaf 0 as 0).
    component sender_old = AccountLeaf();
    sender_old.ax <== sender_ax;
    sender_old.ay <== sender_ay;
    sender_old.balance <== sender_balance;
    sender_old.nonce <== sender_nonce;
    sender_old.eth_address <== sender_address;
    component old_path = MerkleRoot(depth);
    old_path.leaf <== active * sender_old.leaf;
    old_path.bits <== from_bits.path;
    old_path.siblings <== sender_path;
    old_path.root === root_in;

    // Rule 4: the sender pays amount + fee (a negative result would wrap to a value
    // far above 2^128) and uses its nonce (below 2^32 afterwards).
    signal sender_new_balance <== sender_balance - amount.amount - fee;
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
    sender_new.eth_address <== sender_address;
    // The intermediate root: the sender's path is unchanged by its own update.
    component middle_path = MerkleRoot(depth);
    middle_path.leaf <== active * sender_new.leaf;
    middle_path.bits <== from_bits.path;
    middle_path.siblings <== sender_path;

    // Rule 5: the receiver's leaf is under the intermediate root, and its balance
    // plus amount stays below 2^128.
    component receiver_old = AccountLeaf();
    receiver_old.ax <== receiver_ax;
    receiver_old.ay <== receiver_ay;
    receiver_old.balance <== receiver_balance;
    receiver_old.nonce <== receiver_nonce;
    receiver_old.eth_address <== receiver_address;
    component receiver_path_old = MerkleRoot(depth);
    receiver_path_old.leaf <== active * receiver_old.leaf;
    receiver_path_old.bits <== to_bits.path;
    receiver_path_old.siblings <== receiver_path;
    receiver_path_old.root === middle_path.root;

    signal receiver_new_balance <== receiver_balance + amount.amount;
    component receiver_balance_bits = Num2Bits(128);
    receiver_balance_bits.in <== receiver_new_balance;
    component receiver_new = AccountLeaf();
    receiver_new.ax <== receiver_ax;
    receiver_new.ay <== receiver_ay;
    receiver_new.balance <== receiver_new_balance;
    receiver_new.nonce <== receiver_nonce;
    receiver_new.eth_address <== receiver_address;
    component new_path = MerkleRoot(depth);
    new_path.leaf <== active * receiver_new.leaf;
    new_path.bits <== to_bits.path;
    new_path.siblings <== receiver_path;
    root_out <== new_path.root;
}

// One transfer on its own: public old_root and new_root. Not what L1 verifies (the
// batch is); the building block, tested against the spec rule by rule.
template Transfer(depth) {
    signal input old_root;
    signal input new_root;
    signal input from_index;
    signal input to_index;
    signal input amount_code;
    signal input fee_code;
    signal input nonce;
    signal input R8x;
    signal input R8y;
    signal input S;
    signal input sender_ax;
    signal input sender_ay;
    signal input sender_balance;
    signal input sender_nonce;
    signal input sender_address;
    signal input sender_path[depth];
    signal input receiver_ax;
    signal input receiver_ay;
    signal input receiver_balance;
    signal input receiver_nonce;
    signal input receiver_address;
    signal input receiver_path[depth];

    component slot = TransferSlot(depth);
    slot.root_in <== old_root;
    slot.from_index <== from_index;
    slot.to_index <== to_index;
    slot.amount_code <== amount_code;
    slot.fee_code <== fee_code;
    slot.nonce <== nonce;
    slot.R8x <== R8x;
    slot.R8y <== R8y;
    slot.S <== S;
    slot.sender_ax <== sender_ax;
    slot.sender_ay <== sender_ay;
    slot.sender_balance <== sender_balance;
    slot.sender_nonce <== sender_nonce;
    slot.sender_address <== sender_address;
    slot.sender_path <== sender_path;
    slot.receiver_ax <== receiver_ax;
    slot.receiver_ay <== receiver_ay;
    slot.receiver_balance <== receiver_balance;
    slot.receiver_nonce <== receiver_nonce;
    slot.receiver_address <== receiver_address;
    slot.receiver_path <== receiver_path;
    slot.root_out === new_root;
}
