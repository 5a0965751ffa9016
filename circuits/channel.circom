pragma circom 2.0.0;

// A lease's payment channel in the zk ledger: OPEN, CLOSE and RECLAIM, one slot of a
// batch each. The specification they match, rule for rule, is
// src/l2gpu/core/zk/channel.py; the channel's leaf is state.py's
// Poseidon([1, renter, open_nonce, provider, deposit, expiry]) (six inputs: another
// permutation than an account's five, so neither kind of leaf opens as the other);
// the slots' bytes are pubdata.py's:
//
//     open    channel (3) | renter (3) | provider (3) | deposit (16) | expiry (4)
//     close   channel (3) | amount (16)
//     reclaim channel (3)
//
// Channels lie in the upper half of the tree (the top bit of the depth-bit index
// set), accounts in the lower half. A slot whose channel index is 0 is a no-op, as in
// TransferSlot: its bytes are all zero, no signature is checked, every leaf it
// touches is leaf 0 (empty forever), read as 0 and written as 0, so root_out is
// root_in. `timestamp` is the batch's, which the caller has range checked below 2^32
// (the batch's header bytes do).

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/eddsaposeidon.circom";
include "circomlib/circuits/poseidon.circom";
include "account.circom";
include "merkle.circom";

// Poseidon([1, renter, open_nonce, provider, deposit, expiry]), a channel's leaf.
template ChannelLeaf() {
    signal input renter;
    signal input open_nonce;
    signal input provider;
    signal input deposit;
    signal input expiry;
    signal output leaf;

    component hash = Poseidon(6);
    hash.inputs[0] <== 1;  // CHANNEL_LEAF_TAG
    hash.inputs[1] <== renter;
    hash.inputs[2] <== open_nonce;
    hash.inputs[3] <== provider;
    hash.inputs[4] <== deposit;
    hash.inputs[5] <== expiry;
    leaf <== hash.out;
}

// The channel leaf at `path` (its index's bits) under `root_in`, and the root once it
// is emptied. An active slot opens the leaf as a channel's fields (a Poseidon(6)
// preimage: a channel is there); a no-op opens 0.
template TakeChannel(depth) {
    signal input root_in;
    signal input active;
    signal input bits[depth];
    signal input renter;
    signal input open_nonce;
    signal input provider;
    signal input deposit;
    signal input expiry;
    signal input path[depth];
    signal output root_out;

    component leaf = ChannelLeaf();
    leaf.renter <== renter;
    leaf.open_nonce <== open_nonce;
    leaf.provider <== provider;
    leaf.deposit <== deposit;
    leaf.expiry <== expiry;
    component old_path = MerkleRoot(depth);
    old_path.leaf <== active * leaf.leaf;
    old_path.bits <== bits;
    old_path.siblings <== path;
    old_path.root === root_in;
    component new_path = MerkleRoot(depth);
    new_path.leaf <== 0;
    new_path.bits <== bits;
    new_path.siblings <== path;
    root_out <== new_path.root;
}

// An account's leaf under `root_in` credited `amount` (its balance stays below 2^128):
// the root after it. Its key, nonce and address stay as they are.
template CreditAccount(depth) {
    signal input root_in;
    signal input active;
    signal input bits[depth];
    signal input amount;
    signal input ax;
    signal input ay;
    signal input balance;
    signal input nonce;
    signal input eth_address;
    signal input path[depth];
    signal output root_out;

    component old_leaf = AccountLeaf();
    old_leaf.ax <== ax;
    old_leaf.ay <== ay;
    old_leaf.balance <== balance;
    old_leaf.nonce <== nonce;
    old_leaf.eth_address <== eth_address;
    component old_path = MerkleRoot(depth);
    old_path.leaf <== active * old_leaf.leaf;
    old_path.bits <== bits;
    old_path.siblings <== path;
    old_path.root === root_in;

    signal new_balance <== balance + amount;
    component balance_bits = Num2Bits(128);
    balance_bits.in <== new_balance;
    component new_leaf = AccountLeaf();
    new_leaf.ax <== ax;
    new_leaf.ay <== ay;
    new_leaf.balance <== new_balance;
    new_leaf.nonce <== nonce;
    new_leaf.eth_address <== eth_address;
    component new_path = MerkleRoot(depth);
    new_path.leaf <== active * new_leaf.leaf;
    new_path.bits <== bits;
    new_path.siblings <== path;
    root_out <== new_path.root;
}

template OpenSlot(depth) {
    signal input root_in;
    signal input timestamp;
    signal output root_out;
    signal output bytes[232];

    // The slot's public data.
    signal input channel;
    signal input renter;
    signal input provider;
    signal input deposit;
    signal input expiry;
    // The witnesses: the renter's signature and account, the channel slot's path.
    signal input nonce;
    signal input R8x;
    signal input R8y;
    signal input S;
    signal input renter_ax;
    signal input renter_ay;
    signal input renter_balance;
    signal input renter_nonce;
    signal input renter_address;
    signal input renter_path[depth];
    signal input channel_path[depth];

    // Rule 1: indices are leaves, the deposit 128 bits, the expiry 32: 29 bytes.
    component channel_bits = LeafIndex(depth);
    channel_bits.in <== channel;
    component renter_bits = LeafIndex(depth);
    renter_bits.in <== renter;
    component provider_bits = LeafIndex(depth);
    provider_bits.in <== provider;
    component deposit_bits = BigEndian(128);
    deposit_bits.in <== deposit;
    component expiry_bits = BigEndian(32);
    expiry_bits.in <== expiry;
    for (var i = 0; i < 24; i++) {
        bytes[i] <== channel_bits.bytes[i];
        bytes[24 + i] <== renter_bits.bytes[i];
        bytes[48 + i] <== provider_bits.bytes[i];
    }
    for (var i = 0; i < 128; i++) {
        bytes[72 + i] <== deposit_bits.out[i];
    }
    for (var i = 0; i < 32; i++) {
        bytes[200 + i] <== expiry_bits.out[i];
    }

    // A no-op (channel 0) is all zeros (values below 2^128: the sum cannot wrap).
    component noop = IsZero();
    noop.in <== channel;
    signal active <== 1 - noop.out;
    noop.out * (renter + provider + deposit + expiry) === 0;
    // The channel in the channels' half, renter and provider in the accounts' half.
    active * (1 - channel_bits.path[depth - 1]) === 0;
    active * renter_bits.path[depth - 1] === 0;
    active * provider_bits.path[depth - 1] === 0;
    // Index 0 is never an account.
    component renter_zero = IsZero();
    renter_zero.in <== renter;
    active * renter_zero.out === 0;
    component provider_zero = IsZero();
    provider_zero.in <== provider;
    active * provider_zero.out === 0;

    // Rule 2: the deposit is not zero, the expiry after the batch's time.
    component zero_deposit = IsZero();
    zero_deposit.in <== deposit;
    active * zero_deposit.out === 0;
    component future = LessThan(32);
    future.in[0] <== timestamp;
    future.in[1] <== expiry;
    active * (1 - future.out) === 0;

    // Rule 3: the renter's key signed the open, with the renter's nonce.
    component message = Poseidon(6);
    message.inputs[0] <== 3;  // OPEN_TAG
    message.inputs[1] <== renter;
    message.inputs[2] <== provider;
    message.inputs[3] <== deposit;
    message.inputs[4] <== expiry;
    message.inputs[5] <== nonce;
    component signature = EdDSAPoseidonVerifier();
    signature.enabled <== active;
    signature.Ax <== renter_ax;
    signature.Ay <== renter_ay;
    signature.S <== S;
    signature.R8x <== R8x;
    signature.R8y <== R8y;
    signature.M <== message.out;
    nonce === renter_nonce;

    // The renter's leaf is under root_in (a Poseidon(5) preimage: an account).
    component renter_old = AccountLeaf();
    renter_old.ax <== renter_ax;
    renter_old.ay <== renter_ay;
    renter_old.balance <== renter_balance;
    renter_old.nonce <== renter_nonce;
    renter_old.eth_address <== renter_address;
    component old_path = MerkleRoot(depth);
    old_path.leaf <== active * renter_old.leaf;
    old_path.bits <== renter_bits.path;
    old_path.siblings <== renter_path;
    old_path.root === root_in;

    // The renter pays the deposit (a negative balance wraps far above 2^128) and uses
    // its nonce (below 2^32 afterwards).
    signal new_balance <== renter_balance - deposit;
    component balance_bits = Num2Bits(128);
    balance_bits.in <== new_balance;
    signal new_nonce <== renter_nonce + 1;
    component nonce_bits = Num2Bits(32);
    nonce_bits.in <== new_nonce;
    component renter_new = AccountLeaf();
    renter_new.ax <== renter_ax;
    renter_new.ay <== renter_ay;
    renter_new.balance <== new_balance;
    renter_new.nonce <== new_nonce;
    renter_new.eth_address <== renter_address;
    component middle_path = MerkleRoot(depth);
    middle_path.leaf <== active * renter_new.leaf;
    middle_path.bits <== renter_bits.path;
    middle_path.siblings <== renter_path;

    // Rule 4: the channel's slot is empty under the intermediate root.
    component empty_path = MerkleRoot(depth);
    empty_path.leaf <== 0;
    empty_path.bits <== channel_bits.path;
    empty_path.siblings <== channel_path;
    empty_path.root === middle_path.root;

    // The channel's leaf, named by the renter and the nonce its open used.
    component leaf = ChannelLeaf();
    leaf.renter <== renter;
    leaf.open_nonce <== nonce;
    leaf.provider <== provider;
    leaf.deposit <== deposit;
    leaf.expiry <== expiry;
    component new_path = MerkleRoot(depth);
    new_path.leaf <== active * leaf.leaf;
    new_path.bits <== channel_bits.path;
    new_path.siblings <== channel_path;
    root_out <== new_path.root;
}

template CloseSlot(depth) {
    signal input root_in;
    signal output root_out;
    signal output bytes[152];

    // The slot's public data.
    signal input channel;
    signal input amount;
    // The witnesses: the channel's fields and path, both signatures, both accounts.
    signal input renter;
    signal input open_nonce;
    signal input provider;
    signal input deposit;
    signal input expiry;
    signal input channel_path[depth];
    signal input voucher_R8x;
    signal input voucher_R8y;
    signal input voucher_S;
    signal input close_R8x;
    signal input close_R8y;
    signal input close_S;
    signal input provider_ax;
    signal input provider_ay;
    signal input provider_balance;
    signal input provider_nonce;
    signal input provider_address;
    signal input provider_path[depth];
    signal input renter_ax;
    signal input renter_ay;
    signal input renter_balance;
    signal input renter_nonce;
    signal input renter_address;
    signal input renter_path[depth];

    // The channel index is a leaf, the amount 128 bits: 19 bytes.
    component channel_bits = LeafIndex(depth);
    channel_bits.in <== channel;
    component amount_bits = BigEndian(128);
    amount_bits.in <== amount;
    for (var i = 0; i < 24; i++) {
        bytes[i] <== channel_bits.bytes[i];
    }
    for (var i = 0; i < 128; i++) {
        bytes[24 + i] <== amount_bits.out[i];
    }

    // A no-op (channel 0) is all zeros.
    component noop = IsZero();
    noop.in <== channel;
    signal active <== 1 - noop.out;
    noop.out * amount === 0;
    active * (1 - channel_bits.path[depth - 1]) === 0;

    // Rule 1: the slot holds a channel (its leaf under root_in), which is emptied;
    // amount <= deposit (the refund would wrap far above 2^128 otherwise). The
    // channel's fields were range checked when its open wrote them.
    component take = TakeChannel(depth);
    take.root_in <== root_in;
    take.active <== active;
    take.bits <== channel_bits.path;
    take.renter <== renter;
    take.open_nonce <== open_nonce;
    take.provider <== provider;
    take.deposit <== deposit;
    take.expiry <== expiry;
    take.path <== channel_path;
    signal refund <== deposit - amount;
    component refund_bits = Num2Bits(128);
    refund_bits.in <== refund;

    // Rule 2: the provider's account signed the close, the renter's the voucher, both
    // over the channel's name and the amount.
    component close_message = Poseidon(4);
    close_message.inputs[0] <== 5;  // CLOSE_TAG
    close_message.inputs[1] <== renter;
    close_message.inputs[2] <== open_nonce;
    close_message.inputs[3] <== amount;
    component close_signature = EdDSAPoseidonVerifier();
    close_signature.enabled <== active;
    close_signature.Ax <== provider_ax;
    close_signature.Ay <== provider_ay;
    close_signature.S <== close_S;
    close_signature.R8x <== close_R8x;
    close_signature.R8y <== close_R8y;
    close_signature.M <== close_message.out;
    component voucher_message = Poseidon(4);
    voucher_message.inputs[0] <== 4;  // VOUCHER_TAG
    voucher_message.inputs[1] <== renter;
    voucher_message.inputs[2] <== open_nonce;
    voucher_message.inputs[3] <== amount;
    component voucher_signature = EdDSAPoseidonVerifier();
    voucher_signature.enabled <== active;
    voucher_signature.Ax <== renter_ax;
    voucher_signature.Ay <== renter_ay;
    voucher_signature.S <== voucher_S;
    voucher_signature.R8x <== voucher_R8x;
    voucher_signature.R8y <== voucher_R8y;
    voucher_signature.M <== voucher_message.out;

    // Rule 3: the provider's leaf (under the emptied root) gets the amount, then the
    // renter's (under the root after it) the rest; balances stay below 2^128.
    component provider_bits = LeafIndex(depth);
    provider_bits.in <== provider;
    component pay = CreditAccount(depth);
    pay.root_in <== take.root_out;
    pay.active <== active;
    pay.bits <== provider_bits.path;
    pay.amount <== amount;
    pay.ax <== provider_ax;
    pay.ay <== provider_ay;
    pay.balance <== provider_balance;
    pay.nonce <== provider_nonce;
    pay.eth_address <== provider_address;
    pay.path <== provider_path;
    component renter_bits = LeafIndex(depth);
    renter_bits.in <== renter;
    component back = CreditAccount(depth);
    back.root_in <== pay.root_out;
    back.active <== active;
    back.bits <== renter_bits.path;
    back.amount <== refund;
    back.ax <== renter_ax;
    back.ay <== renter_ay;
    back.balance <== renter_balance;
    back.nonce <== renter_nonce;
    back.eth_address <== renter_address;
    back.path <== renter_path;
    root_out <== back.root_out;
}

template ReclaimSlot(depth) {
    signal input root_in;
    signal input timestamp;
    signal output root_out;
    signal output bytes[24];

    // The slot's public data.
    signal input channel;
    // The witnesses: the channel's fields and path, the renter's account.
    signal input renter;
    signal input open_nonce;
    signal input provider;
    signal input deposit;
    signal input expiry;
    signal input channel_path[depth];
    signal input renter_ax;
    signal input renter_ay;
    signal input renter_balance;
    signal input renter_nonce;
    signal input renter_address;
    signal input renter_path[depth];

    component channel_bits = LeafIndex(depth);
    channel_bits.in <== channel;
    for (var i = 0; i < 24; i++) {
        bytes[i] <== channel_bits.bytes[i];
    }
    component noop = IsZero();
    noop.in <== channel;
    signal active <== 1 - noop.out;
    active * (1 - channel_bits.path[depth - 1]) === 0;

    // The slot holds a channel, which is emptied.
    component take = TakeChannel(depth);
    take.root_in <== root_in;
    take.active <== active;
    take.bits <== channel_bits.path;
    take.renter <== renter;
    take.open_nonce <== open_nonce;
    take.provider <== provider;
    take.deposit <== deposit;
    take.expiry <== expiry;
    take.path <== channel_path;

    // The batch's time has reached the expiry (both below 2^32).
    component expired = GreaterEqThan(32);
    expired.in[0] <== timestamp;
    expired.in[1] <== expiry;
    active * (1 - expired.out) === 0;

    // The whole deposit back to the renter's account (under the emptied root).
    component renter_bits = LeafIndex(depth);
    renter_bits.in <== renter;
    component back = CreditAccount(depth);
    back.root_in <== take.root_out;
    back.active <== active;
    back.bits <== renter_bits.path;
    back.amount <== deposit;
    back.ax <== renter_ax;
    back.ay <== renter_ay;
    back.balance <== renter_balance;
    back.nonce <== renter_nonce;
    back.eth_address <== renter_address;
    back.path <== renter_path;
    root_out <== back.root_out;
}
