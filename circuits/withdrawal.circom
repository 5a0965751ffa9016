pragma circom 2.0.0;

// WITHDRAWAL in the zk ledger, one slot of a batch: the specification it matches is
// src/l2gpu/core/zk/withdrawal.py; the slot's bytes are pubdata.py's
// from (3) | eth_address (20) | amount (16).
//
// The account signs Poseidon([2, from, amount, nonce]) (2: WITHDRAWAL_TAG); its
// balance pays amount (no fee) and its nonce grows by one. The slot's eth_address is
// the leaf's own: the circuit hashes the published address into the account's leaf,
// so a slot naming another address opens no leaf. A slot whose from index is 0 is a
// no-op (all zeros, leaf 0 read and written as 0), as in TransferSlot.

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/eddsaposeidon.circom";
include "circomlib/circuits/poseidon.circom";
include "account.circom";
include "merkle.circom";

template WithdrawalSlot(depth) {
    signal input root_in;
    signal output root_out;
    signal output bytes[312];

    // The slot's public data.
    signal input from_index;
    signal input eth_address;
    signal input amount;
    // The witnesses.
    signal input nonce;
    signal input R8x;
    signal input R8y;
    signal input S;
    signal input account_ax;
    signal input account_ay;
    signal input account_balance;
    signal input account_nonce;
    signal input path[depth];

    // The index is a leaf, the address 160 bits, the amount 128: the slot's 39 bytes.
    component from_bits = LeafIndex(depth);
    from_bits.in <== from_index;
    component address_bits = BigEndian(160);
    address_bits.in <== eth_address;
    component amount_bits = BigEndian(128);
    amount_bits.in <== amount;
    for (var i = 0; i < 24; i++) {
        bytes[i] <== from_bits.bytes[i];
    }
    for (var i = 0; i < 160; i++) {
        bytes[24 + i] <== address_bits.out[i];
    }
    for (var i = 0; i < 128; i++) {
        bytes[184 + i] <== amount_bits.out[i];
    }

    // A no-op (from 0) is all zeros.
    component noop = IsZero();
    noop.in <== from_index;
    signal active <== 1 - noop.out;
    noop.out * (eth_address + amount) === 0;

    // The amount is not zero.
    component zero_amount = IsZero();
    zero_amount.in <== amount;
    active * zero_amount.out === 0;

    // The account's key signed the withdrawal, with the account's nonce.
    component message = Poseidon(4);
    message.inputs[0] <== 2;  // WITHDRAWAL_TAG
    message.inputs[1] <== from_index;
    message.inputs[2] <== amount;
    message.inputs[3] <== nonce;
    component signature = EdDSAPoseidonVerifier();
    signature.enabled <== active;
    signature.Ax <== account_ax;
    signature.Ay <== account_ay;
    signature.S <== S;
    signature.R8x <== R8x;
    signature.R8y <== R8y;
    signature.M <== message.out;
    nonce === account_nonce;

    // The account's leaf, with the published address, is under root_in.
    component old_leaf = AccountLeaf();
    old_leaf.ax <== account_ax;
    old_leaf.ay <== account_ay;
    old_leaf.balance <== account_balance;
    old_leaf.nonce <== account_nonce;
    old_leaf.eth_address <== eth_address;
    component old_path = MerkleRoot(depth);
    old_path.leaf <== active * old_leaf.leaf;
    old_path.bits <== from_bits.path;
    old_path.siblings <== path;
    old_path.root === root_in;

    // The balance pays amount (a negative result would wrap far above 2^128), the
    // nonce grows (below 2^32 afterwards).
    signal new_balance <== account_balance - amount;
    component balance_bits = Num2Bits(128);
    balance_bits.in <== new_balance;
    signal new_nonce <== account_nonce + 1;
    component nonce_bits = Num2Bits(32);
    nonce_bits.in <== new_nonce;
    component new_leaf = AccountLeaf();
    new_leaf.ax <== account_ax;
    new_leaf.ay <== account_ay;
    new_leaf.balance <== new_balance;
    new_leaf.nonce <== new_nonce;
    new_leaf.eth_address <== eth_address;
    component new_path = MerkleRoot(depth);
    new_path.leaf <== active * new_leaf.leaf;
    new_path.bits <== from_bits.path;
    new_path.siblings <== path;
    root_out <== new_path.root;
}

// FORCED EXIT, one slot of a batch: the specification it matches is
// src/l2gpu/core/zk/forced_exit.py; the slot's bytes are pubdata.py's
// index (3) | paid (16).
//
// A full exit: L1 wrote the index from its queue (and pays the owner it stored with
// the request); the operator chose paid, and this proves it is the whole balance of
// the account at the index, whose leaf becomes the same account with balance 0. The
// nonce does not move (nothing is signed). No comparator: the old leaf is opened with
// balance = paid, so a paid other than the balance opens no leaf under root_in.
// A slot whose index is 0 is a no-op (all zeros, leaf 0 read and written as 0).
// Its components are named apart from WithdrawalSlot's so that a failed constraint's
// line says which slot failed.
template ForcedExitSlot(depth) {
    signal input root_in;
    signal output root_out;
    signal output bytes[152];

    // The slot's public data.
    signal input index;
    signal input paid;
    // The witnesses: the account's fields but its balance, which is paid.
    signal input account_ax;
    signal input account_ay;
    signal input account_nonce;
    signal input account_address;
    signal input path[depth];

    // The index is a leaf, paid 128 bits: the slot's 19 bytes.
    component index_bits = LeafIndex(depth);
    index_bits.in <== index;
    component paid_bits = BigEndian(128);
    paid_bits.in <== paid;
    for (var i = 0; i < 24; i++) {
        bytes[i] <== index_bits.bytes[i];
    }
    for (var i = 0; i < 128; i++) {
        bytes[24 + i] <== paid_bits.out[i];
    }

    // A no-op (index 0) is all zeros.
    component noop = IsZero();
    noop.in <== index;
    signal active <== 1 - noop.out;
    noop.out * paid === 0;

    // The account's leaf, holding exactly paid, is under root_in.
    component full_leaf = AccountLeaf();
    full_leaf.ax <== account_ax;
    full_leaf.ay <== account_ay;
    full_leaf.balance <== paid;
    full_leaf.nonce <== account_nonce;
    full_leaf.eth_address <== account_address;
    component exit_path = MerkleRoot(depth);
    exit_path.leaf <== active * full_leaf.leaf;
    exit_path.bits <== index_bits.path;
    exit_path.siblings <== path;
    exit_path.root === root_in;

    // The same account, emptied.
    component empty_leaf = AccountLeaf();
    empty_leaf.ax <== account_ax;
    empty_leaf.ay <== account_ay;
    empty_leaf.balance <== 0;
    empty_leaf.nonce <== account_nonce;
    empty_leaf.eth_address <== account_address;
    component emptied_path = MerkleRoot(depth);
    emptied_path.leaf <== active * empty_leaf.leaf;
    emptied_path.bits <== index_bits.path;
    emptied_path.siblings <== path;
    root_out <== emptied_path.root;
}
