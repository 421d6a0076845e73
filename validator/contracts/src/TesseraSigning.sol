// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title What Tessera's BLS signatures sign: the SSZ signing roots of specs/validator.md (Signed
/// messages), computed with SHA-256 as `validator.signing` computes them (a test holds them equal).
library TesseraSigning {
    bytes4 internal constant DOMAIN_BALLOT = 0x01000000;
    bytes4 internal constant DOMAIN_ATTESTATION = 0x02000000;
    bytes4 internal constant DOMAIN_SEED = 0x03000000;

    /// compute_ballot_signing_root: hash_tree_root(BallotMessage(domain, chain_id, epoch, seed)),
    /// four 32-byte leaves merkleized with SHA-256.
    function ballotRoot(uint64 chainId, uint64 epoch, bytes32 seed) internal pure returns (bytes32) {
        return sha256(
            abi.encodePacked(
                sha256(abi.encodePacked(bytes32(DOMAIN_BALLOT), leaf64(chainId))),
                sha256(abi.encodePacked(leaf64(epoch), seed))
            )
        );
    }

    /// compute_attestation_signing_root: hash_tree_root(AttestationMessage(domain, chain_id, epoch,
    /// quorum, data_root)), five 32-byte leaves padded to eight, merkleized with SHA-256.
    function attestationRoot(uint64 chainId, uint64 epoch, uint64 quorum, bytes32 dataRoot)
        internal
        pure
        returns (bytes32)
    {
        bytes32 zero = bytes32(0);
        bytes32 left = sha256(
            abi.encodePacked(
                sha256(abi.encodePacked(bytes32(DOMAIN_ATTESTATION), leaf64(chainId))),
                sha256(abi.encodePacked(leaf64(epoch), leaf64(quorum)))
            )
        );
        bytes32 zeroPair = sha256(abi.encodePacked(zero, zero));
        bytes32 right = sha256(abi.encodePacked(sha256(abi.encodePacked(dataRoot, zero)), zeroPair));
        return sha256(abi.encodePacked(left, right));
    }

    /// compute_next_seed: seed(epoch + 1) = sha256(DOMAIN_SEED || seed(epoch) || uint64_le(epoch + 1)
    /// || mix), where mix is the XOR of the VRF outputs of epoch's ballots (compute_ballot_mix).
    function nextSeed(bytes32 seed, uint64 epoch, bytes32 mix) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(DOMAIN_SEED, seed, uint64le(epoch + 1), mix));
    }

    /// A uint64 as its SSZ leaf: little-endian in the first 8 bytes of a 32-byte chunk.
    function leaf64(uint64 value) internal pure returns (bytes32) {
        return bytes32(uint64le(value));
    }

    /// A uint64's 8 little-endian bytes.
    function uint64le(uint64 value) internal pure returns (bytes8) {
        uint64 reversed;
        for (uint256 i = 0; i < 8; i++) {
            reversed = (reversed << 8) | ((value >> (8 * i)) & 0xff);
        }
        return bytes8(reversed);
    }
}
