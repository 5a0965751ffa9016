pragma circom 2.0.0;

// The zk ledger's batch: one proof for a whole batch, whose single public input is
// the SHA-256 of its public data reduced into the field (with validium = 1, the
// SHA-256 of the part L1 holds and of the digest of the part it does not: see
// pubdata.py). The specification it
// matches is src/l2gpu/core/zk/batch.py; the public data's layout is pubdata.py's
// (big-endian):
//
//     old_root (32) | new_root (32) | fee_account (3) | timestamp (4)
//     nDeposits    x [ index (3) | ax (32) | ay (32) | eth_address (20) | amount (16) ]
//     nTransfers   x [ from (3) | to (3) | amount (5, float40) | fee_code (1) ]
//     nWithdrawals x [ from (3) | eth_address (20) | amount (16) ]
//     nOpens       x [ channel (3) | renter (3) | provider (3) | deposit (16) | expiry (4) ]
//     nCloses      x [ channel (3) | amount (16) ]
//     nReclaims    x [ channel (3) ]
//     nForcedExits x [ index (3) | paid (16) ]
//
// The slots' fields are private inputs: each slot template range checks them into
// their bytes' bits, and the circuit hashes the concatenation with circomlib's
// Sha256 and constrains input_hash to Bits2Num(256) of the digest (which reduces it
// mod p, as pubdata.public_input does). The state goes old_root -> each deposit ->
// each transfer -> each withdrawal -> each open -> each close -> each reclaim -> each
// forced exit -> the fee credit -> new_root; a no-op slot (index 0) leaves the root as it is. Every
// section needs at least one slot. The timestamp (32 bits, range checked by its header
// bytes) is the batch's time that the channels' opens and reclaims compare expiries to.

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/sha256/sha256.circom";
include "account.circom";
include "channel.circom";
include "deposit.circom";
include "merkle.circom";
include "transfer.circom";
include "withdrawal.circom";

// The sum of the batch's fees credited to the fee account, which must exist (its leaf
// a Poseidon digest under root_in; index 0 cannot be one), its balance staying below 2^128.
template FeeCredit(depth) {
    signal input root_in;
    signal input index_path[depth];
    signal input fees;
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
    old_path.leaf <== old_leaf.leaf;
    old_path.bits <== index_path;
    old_path.siblings <== path;
    old_path.root === root_in;

    signal new_balance <== balance + fees;
    component balance_bits = Num2Bits(128);
    balance_bits.in <== new_balance;
    component new_leaf = AccountLeaf();
    new_leaf.ax <== ax;
    new_leaf.ay <== ay;
    new_leaf.balance <== new_balance;
    new_leaf.nonce <== nonce;
    new_leaf.eth_address <== eth_address;
    component new_path = MerkleRoot(depth);
    new_path.leaf <== new_leaf.leaf;
    new_path.bits <== index_path;
    new_path.siblings <== path;
    root_out <== new_path.root;
}

template Batch(nDeposits, nTransfers, nWithdrawals, nOpens, nCloses, nReclaims, nForcedExits,
               depth, validium) {
    var nBits = 8 * (71 + 103 * nDeposits + 12 * nTransfers + 39 * nWithdrawals
                     + 29 * nOpens + 19 * nCloses + 3 * nReclaims + 19 * nForcedExits);
    signal input input_hash;

    // The header.
    signal input old_root;
    signal input new_root;
    signal input fee_account;
    signal input timestamp;
    // Deposits: the slot's fields, then the leaf as it is and its path.
    signal input deposit_index[nDeposits];
    signal input deposit_ax_hi[nDeposits];
    signal input deposit_ax_lo[nDeposits];
    signal input deposit_ay_hi[nDeposits];
    signal input deposit_ay_lo[nDeposits];
    signal input deposit_eth_address[nDeposits];
    signal input deposit_amount[nDeposits];
    signal input deposit_is_empty[nDeposits];
    signal input deposit_account_ax[nDeposits];
    signal input deposit_account_ay[nDeposits];
    signal input deposit_account_balance[nDeposits];
    signal input deposit_account_nonce[nDeposits];
    signal input deposit_account_address[nDeposits];
    signal input deposit_path[nDeposits][depth];
    // Transfers: the slot's fields, then the signature and both accounts.
    signal input transfer_from[nTransfers];
    signal input transfer_to[nTransfers];
    signal input transfer_amount_code[nTransfers];
    signal input transfer_fee_code[nTransfers];
    signal input transfer_nonce[nTransfers];
    signal input transfer_R8x[nTransfers];
    signal input transfer_R8y[nTransfers];
    signal input transfer_S[nTransfers];
    signal input transfer_sender_ax[nTransfers];
    signal input transfer_sender_ay[nTransfers];
    signal input transfer_sender_balance[nTransfers];
    signal input transfer_sender_nonce[nTransfers];
    signal input transfer_sender_address[nTransfers];
    signal input transfer_sender_path[nTransfers][depth];
    signal input transfer_receiver_ax[nTransfers];
    signal input transfer_receiver_ay[nTransfers];
    signal input transfer_receiver_balance[nTransfers];
    signal input transfer_receiver_nonce[nTransfers];
    signal input transfer_receiver_address[nTransfers];
    signal input transfer_receiver_path[nTransfers][depth];
    // Withdrawals: the slot's fields, then the signature and the account.
    signal input withdrawal_from[nWithdrawals];
    signal input withdrawal_eth_address[nWithdrawals];
    signal input withdrawal_amount[nWithdrawals];
    signal input withdrawal_nonce[nWithdrawals];
    signal input withdrawal_R8x[nWithdrawals];
    signal input withdrawal_R8y[nWithdrawals];
    signal input withdrawal_S[nWithdrawals];
    signal input withdrawal_account_ax[nWithdrawals];
    signal input withdrawal_account_ay[nWithdrawals];
    signal input withdrawal_account_balance[nWithdrawals];
    signal input withdrawal_account_nonce[nWithdrawals];
    signal input withdrawal_path[nWithdrawals][depth];
    // Opens: the slot's fields, the renter's signature and account, the channel's path.
    signal input open_channel[nOpens];
    signal input open_renter[nOpens];
    signal input open_provider[nOpens];
    signal input open_deposit[nOpens];
    signal input open_expiry[nOpens];
    signal input open_nonce[nOpens];
    signal input open_R8x[nOpens];
    signal input open_R8y[nOpens];
    signal input open_S[nOpens];
    signal input open_renter_ax[nOpens];
    signal input open_renter_ay[nOpens];
    signal input open_renter_balance[nOpens];
    signal input open_renter_nonce[nOpens];
    signal input open_renter_address[nOpens];
    signal input open_renter_path[nOpens][depth];
    signal input open_channel_path[nOpens][depth];
    // Closes: the slot's fields, the channel's leaf, both signatures and accounts.
    signal input close_channel[nCloses];
    signal input close_amount[nCloses];
    signal input close_renter[nCloses];
    signal input close_open_nonce[nCloses];
    signal input close_provider[nCloses];
    signal input close_deposit[nCloses];
    signal input close_expiry[nCloses];
    signal input close_channel_path[nCloses][depth];
    signal input close_voucher_R8x[nCloses];
    signal input close_voucher_R8y[nCloses];
    signal input close_voucher_S[nCloses];
    signal input close_close_R8x[nCloses];
    signal input close_close_R8y[nCloses];
    signal input close_close_S[nCloses];
    signal input close_provider_ax[nCloses];
    signal input close_provider_ay[nCloses];
    signal input close_provider_balance[nCloses];
    signal input close_provider_nonce[nCloses];
    signal input close_provider_address[nCloses];
    signal input close_provider_path[nCloses][depth];
    signal input close_renter_ax[nCloses];
    signal input close_renter_ay[nCloses];
    signal input close_renter_balance[nCloses];
    signal input close_renter_nonce[nCloses];
    signal input close_renter_address[nCloses];
    signal input close_renter_path[nCloses][depth];
    // Reclaims: the slot's field, the channel's leaf, the renter's account.
    signal input reclaim_channel[nReclaims];
    signal input reclaim_renter[nReclaims];
    signal input reclaim_open_nonce[nReclaims];
    signal input reclaim_provider[nReclaims];
    signal input reclaim_deposit[nReclaims];
    signal input reclaim_expiry[nReclaims];
    signal input reclaim_channel_path[nReclaims][depth];
    signal input reclaim_renter_ax[nReclaims];
    signal input reclaim_renter_ay[nReclaims];
    signal input reclaim_renter_balance[nReclaims];
    signal input reclaim_renter_nonce[nReclaims];
    signal input reclaim_renter_address[nReclaims];
    signal input reclaim_renter_path[nReclaims][depth];
    // Forced exits: the slot's fields (L1's, and paid), then the account.
    signal input forced_exit_index[nForcedExits];
    signal input forced_exit_paid[nForcedExits];
    signal input forced_exit_account_ax[nForcedExits];
    signal input forced_exit_account_ay[nForcedExits];
    signal input forced_exit_account_nonce[nForcedExits];
    signal input forced_exit_account_address[nForcedExits];
    signal input forced_exit_path[nForcedExits][depth];
    // The fee account after the last slot.
    signal input fee_ax;
    signal input fee_ay;
    signal input fee_balance;
    signal input fee_nonce;
    signal input fee_address;
    signal input fee_path[depth];

    signal data[nBits];  // the public data's bits, most significant first
    var at = 0;

    // The header's bytes: roots below p (one encoding each), the fee account a leaf,
    // the timestamp 32 bits.
    component old_bits = FieldBytes();
    old_bits.in <== old_root;
    component new_bits = FieldBytes();
    new_bits.in <== new_root;
    component fee_index = LeafIndex(depth);
    fee_index.in <== fee_account;
    for (var i = 0; i < 256; i++) {
        data[at + i] <== old_bits.out[i];
        data[at + 256 + i] <== new_bits.out[i];
    }
    at += 512;
    for (var i = 0; i < 24; i++) {
        data[at + i] <== fee_index.bytes[i];
    }
    at += 24;
    component time_bits = BigEndian(32);
    time_bits.in <== timestamp;
    for (var i = 0; i < 32; i++) {
        data[at + i] <== time_bits.out[i];
    }
    at += 32;

    var nSlots = nDeposits + nTransfers + nWithdrawals + nOpens + nCloses + nReclaims
                 + nForcedExits;
    signal root[nSlots + 1];
    root[0] <== old_root;

    component deposit[nDeposits];
    for (var k = 0; k < nDeposits; k++) {
        deposit[k] = DepositSlot(depth);
        deposit[k].root_in <== root[k];
        deposit[k].index <== deposit_index[k];
        deposit[k].ax_hi <== deposit_ax_hi[k];
        deposit[k].ax_lo <== deposit_ax_lo[k];
        deposit[k].ay_hi <== deposit_ay_hi[k];
        deposit[k].ay_lo <== deposit_ay_lo[k];
        deposit[k].eth_address <== deposit_eth_address[k];
        deposit[k].amount <== deposit_amount[k];
        deposit[k].is_empty <== deposit_is_empty[k];
        deposit[k].account_ax <== deposit_account_ax[k];
        deposit[k].account_ay <== deposit_account_ay[k];
        deposit[k].account_balance <== deposit_account_balance[k];
        deposit[k].account_nonce <== deposit_account_nonce[k];
        deposit[k].account_address <== deposit_account_address[k];
        deposit[k].path <== deposit_path[k];
        root[k + 1] <== deposit[k].root_out;
        for (var i = 0; i < 824; i++) {
            data[at + i] <== deposit[k].bytes[i];
        }
        at += 824;
    }

    component transfer[nTransfers];
    var fees = 0;
    for (var k = 0; k < nTransfers; k++) {
        var r = nDeposits + k;
        transfer[k] = TransferSlot(depth);
        transfer[k].root_in <== root[r];
        transfer[k].from_index <== transfer_from[k];
        transfer[k].to_index <== transfer_to[k];
        transfer[k].amount_code <== transfer_amount_code[k];
        transfer[k].fee_code <== transfer_fee_code[k];
        transfer[k].nonce <== transfer_nonce[k];
        transfer[k].R8x <== transfer_R8x[k];
        transfer[k].R8y <== transfer_R8y[k];
        transfer[k].S <== transfer_S[k];
        transfer[k].sender_ax <== transfer_sender_ax[k];
        transfer[k].sender_ay <== transfer_sender_ay[k];
        transfer[k].sender_balance <== transfer_sender_balance[k];
        transfer[k].sender_nonce <== transfer_sender_nonce[k];
        transfer[k].sender_address <== transfer_sender_address[k];
        transfer[k].sender_path <== transfer_sender_path[k];
        transfer[k].receiver_ax <== transfer_receiver_ax[k];
        transfer[k].receiver_ay <== transfer_receiver_ay[k];
        transfer[k].receiver_balance <== transfer_receiver_balance[k];
        transfer[k].receiver_nonce <== transfer_receiver_nonce[k];
        transfer[k].receiver_address <== transfer_receiver_address[k];
        transfer[k].receiver_path <== transfer_receiver_path[k];
        root[r + 1] <== transfer[k].root_out;
        fees += transfer[k].fee;
        for (var i = 0; i < 96; i++) {
            data[at + i] <== transfer[k].bytes[i];
        }
        at += 96;
    }

    component withdrawal[nWithdrawals];
    for (var k = 0; k < nWithdrawals; k++) {
        var r = nDeposits + nTransfers + k;
        withdrawal[k] = WithdrawalSlot(depth);
        withdrawal[k].root_in <== root[r];
        withdrawal[k].from_index <== withdrawal_from[k];
        withdrawal[k].eth_address <== withdrawal_eth_address[k];
        withdrawal[k].amount <== withdrawal_amount[k];
        withdrawal[k].nonce <== withdrawal_nonce[k];
        withdrawal[k].R8x <== withdrawal_R8x[k];
        withdrawal[k].R8y <== withdrawal_R8y[k];
        withdrawal[k].S <== withdrawal_S[k];
        withdrawal[k].account_ax <== withdrawal_account_ax[k];
        withdrawal[k].account_ay <== withdrawal_account_ay[k];
        withdrawal[k].account_balance <== withdrawal_account_balance[k];
        withdrawal[k].account_nonce <== withdrawal_account_nonce[k];
        withdrawal[k].path <== withdrawal_path[k];
        root[r + 1] <== withdrawal[k].root_out;
        for (var i = 0; i < 312; i++) {
            data[at + i] <== withdrawal[k].bytes[i];
        }
        at += 312;
    }

    component open[nOpens];
    for (var k = 0; k < nOpens; k++) {
        var r = nDeposits + nTransfers + nWithdrawals + k;
        open[k] = OpenSlot(depth);
        open[k].root_in <== root[r];
        open[k].timestamp <== timestamp;
        open[k].channel <== open_channel[k];
        open[k].renter <== open_renter[k];
        open[k].provider <== open_provider[k];
        open[k].deposit <== open_deposit[k];
        open[k].expiry <== open_expiry[k];
        open[k].nonce <== open_nonce[k];
        open[k].R8x <== open_R8x[k];
        open[k].R8y <== open_R8y[k];
        open[k].S <== open_S[k];
        open[k].renter_ax <== open_renter_ax[k];
        open[k].renter_ay <== open_renter_ay[k];
        open[k].renter_balance <== open_renter_balance[k];
        open[k].renter_nonce <== open_renter_nonce[k];
        open[k].renter_address <== open_renter_address[k];
        open[k].renter_path <== open_renter_path[k];
        open[k].channel_path <== open_channel_path[k];
        root[r + 1] <== open[k].root_out;
        for (var i = 0; i < 232; i++) {
            data[at + i] <== open[k].bytes[i];
        }
        at += 232;
    }

    component close[nCloses];
    for (var k = 0; k < nCloses; k++) {
        var r = nDeposits + nTransfers + nWithdrawals + nOpens + k;
        close[k] = CloseSlot(depth);
        close[k].root_in <== root[r];
        close[k].channel <== close_channel[k];
        close[k].amount <== close_amount[k];
        close[k].renter <== close_renter[k];
        close[k].open_nonce <== close_open_nonce[k];
        close[k].provider <== close_provider[k];
        close[k].deposit <== close_deposit[k];
        close[k].expiry <== close_expiry[k];
        close[k].channel_path <== close_channel_path[k];
        close[k].voucher_R8x <== close_voucher_R8x[k];
        close[k].voucher_R8y <== close_voucher_R8y[k];
        close[k].voucher_S <== close_voucher_S[k];
        close[k].close_R8x <== close_close_R8x[k];
        close[k].close_R8y <== close_close_R8y[k];
        close[k].close_S <== close_close_S[k];
        close[k].provider_ax <== close_provider_ax[k];
        close[k].provider_ay <== close_provider_ay[k];
        close[k].provider_balance <== close_provider_balance[k];
        close[k].provider_nonce <== close_provider_nonce[k];
        close[k].provider_address <== close_provider_address[k];
        close[k].provider_path <== close_provider_path[k];
        close[k].renter_ax <== close_renter_ax[k];
        close[k].renter_ay <== close_renter_ay[k];
        close[k].renter_balance <== close_renter_balance[k];
        close[k].renter_nonce <== close_renter_nonce[k];
        close[k].renter_address <== close_renter_address[k];
        close[k].renter_path <== close_renter_path[k];
        root[r + 1] <== close[k].root_out;
        for (var i = 0; i < 152; i++) {
            data[at + i] <== close[k].bytes[i];
        }
        at += 152;
    }

    component reclaim[nReclaims];
    for (var k = 0; k < nReclaims; k++) {
        var r = nDeposits + nTransfers + nWithdrawals + nOpens + nCloses + k;
        reclaim[k] = ReclaimSlot(depth);
        reclaim[k].root_in <== root[r];
        reclaim[k].timestamp <== timestamp;
        reclaim[k].channel <== reclaim_channel[k];
        reclaim[k].renter <== reclaim_renter[k];
        reclaim[k].open_nonce <== reclaim_open_nonce[k];
        reclaim[k].provider <== reclaim_provider[k];
        reclaim[k].deposit <== reclaim_deposit[k];
        reclaim[k].expiry <== reclaim_expiry[k];
        reclaim[k].channel_path <== reclaim_channel_path[k];
        reclaim[k].renter_ax <== reclaim_renter_ax[k];
        reclaim[k].renter_ay <== reclaim_renter_ay[k];
        reclaim[k].renter_balance <== reclaim_renter_balance[k];
        reclaim[k].renter_nonce <== reclaim_renter_nonce[k];
        reclaim[k].renter_address <== reclaim_renter_address[k];
        reclaim[k].renter_path <== reclaim_renter_path[k];
        root[r + 1] <== reclaim[k].root_out;
        for (var i = 0; i < 24; i++) {
            data[at + i] <== reclaim[k].bytes[i];
        }
        at += 24;
    }

    component forced_exit[nForcedExits];
    for (var k = 0; k < nForcedExits; k++) {
        var r = nDeposits + nTransfers + nWithdrawals + nOpens + nCloses + nReclaims + k;
        forced_exit[k] = ForcedExitSlot(depth);
        forced_exit[k].root_in <== root[r];
        forced_exit[k].index <== forced_exit_index[k];
        forced_exit[k].paid <== forced_exit_paid[k];
        forced_exit[k].account_ax <== forced_exit_account_ax[k];
        forced_exit[k].account_ay <== forced_exit_account_ay[k];
        forced_exit[k].account_nonce <== forced_exit_account_nonce[k];
        forced_exit[k].account_address <== forced_exit_account_address[k];
        forced_exit[k].path <== forced_exit_path[k];
        root[r + 1] <== forced_exit[k].root_out;
        for (var i = 0; i < 152; i++) {
            data[at + i] <== forced_exit[k].bytes[i];
        }
        at += 152;
    }
    assert(at == nBits);

    // The fees (each below 2^48: their sum cannot wrap) to the fee account, last.
    component credit = FeeCredit(depth);
    credit.root_in <== root[nSlots];
    credit.index_path <== fee_index.path;
    credit.fees <== fees;
    credit.ax <== fee_ax;
    credit.ay <== fee_ay;
    credit.balance <== fee_balance;
    credit.nonce <== fee_nonce;
    credit.eth_address <== fee_address;
    credit.path <== fee_path;
    credit.root_out === new_root;

    // The one public input, read as a number (Bits2Num reduces it mod p): SHA-256 of
    // the public data (a rollup), or of its on-L1 part and the off-L1 part's digest
    // (a validium: pubdata.validium_public_input).
    component digest = Bits2Num(256);
    if (validium == 0) {
        component sha = Sha256(nBits);
        sha.in <== data;
        for (var i = 0; i < 256; i++) {
            digest.in[i] <== sha.out[255 - i];
        }
    } else {
        var headerBits = 8 * 71;
        var depositBits = 8 * 103 * nDeposits;
        var transferBits = 8 * 12 * nTransfers;
        var withdrawalBits = 8 * 39 * nWithdrawals;
        var channelBits = 8 * (29 * nOpens + 19 * nCloses + 3 * nReclaims);
        var exitBits = 8 * 19 * nForcedExits;
        var onBits = headerBits + depositBits + withdrawalBits + exitBits;
        var offBits = transferBits + channelBits;
        // off-L1: transfers | opens | closes | reclaims
        component off = Sha256(offBits);
        var transfersAt = headerBits + depositBits;
        var channelsAt = transfersAt + transferBits + withdrawalBits;
        for (var i = 0; i < transferBits; i++) {
            off.in[i] <== data[transfersAt + i];
        }
        for (var i = 0; i < channelBits; i++) {
            off.in[transferBits + i] <== data[channelsAt + i];
        }
        // on L1: header | deposits | withdrawals | forced exits | the off-L1 digest
        component on = Sha256(onBits + 256);
        for (var i = 0; i < headerBits + depositBits; i++) {
            on.in[i] <== data[i];
        }
        for (var i = 0; i < withdrawalBits; i++) {
            on.in[headerBits + depositBits + i] <== data[transfersAt + transferBits + i];
        }
        var exitsAt = channelsAt + channelBits;
        for (var i = 0; i < exitBits; i++) {
            on.in[headerBits + depositBits + withdrawalBits + i] <== data[exitsAt + i];
        }
        for (var i = 0; i < 256; i++) {
            on.in[onBits + i] <== off.out[i];
        }
        for (var i = 0; i < 256; i++) {
            digest.in[i] <== on.out[255 - i];
        }
    }
    input_hash === digest.out;
}
