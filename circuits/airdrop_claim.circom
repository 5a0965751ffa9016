pragma circom 2.0.0;

// A private airdrop claim. The specification it matches is
// src/l2gpu/core/airdrop/identity.py (commitment and nullifier hash) and
// src/l2gpu/core/airdrop/tree.py (the tier's Merkle tree, merkle.circom's hashing).
//
// The claimer proves, without saying which leaf is theirs, that they know secrets
// (nullifier, trapdoor) whose commitment Poseidon([nullifier, trapdoor]) is a leaf
// of the tree with root `root`, and that `nullifier_hash` is
// Poseidon([nullifier, airdrop_id]): the one value L1 records so the same secrets
// claim once per airdrop, and which says nothing about the leaf or the account.
//
// `binding` is keccak256(recipient, relayer, fee) reduced into the field, computed on
// L1 from the claim's arguments. The circuit does not compute it: a public input is
// part of what the proof proves, so a relayer (or anyone who sees the claim in the
// mempool) cannot change the recipient, the relayer or the fee without a new proof,
// which only the holder of the secrets can make. The square below makes the signal
// appear in a constraint, so no compiler can drop it.

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/poseidon.circom";
include "merkle.circom";

template AirdropClaim(depth) {
    signal input root;
    signal input nullifier_hash;
    signal input airdrop_id;
    signal input binding;

    signal input nullifier;
    signal input trapdoor;
    signal input index;
    signal input siblings[depth];

    component commitment = Poseidon(2);
    commitment.inputs[0] <== nullifier;
    commitment.inputs[1] <== trapdoor;

    // Num2Bits(depth) both gives the path's sides and bounds the index below 2^depth.
    component side = Num2Bits(depth);
    side.in <== index;
    component path = MerkleRoot(depth);
    path.leaf <== commitment.out;
    for (var i = 0; i < depth; i++) {
        path.bits[i] <== side.out[i];
        path.siblings[i] <== siblings[i];
    }
    root === path.root;

    component spent = Poseidon(2);
    spent.inputs[0] <== nullifier;
    spent.inputs[1] <== airdrop_id;
    nullifier_hash === spent.out;

    signal binding_square;
    binding_square <== binding * binding;
}
