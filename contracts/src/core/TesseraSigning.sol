// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title What Tessera's BLS signatures sign: the SSZ signing roots of specs/validator.md (Signed
/// messages), computed with SHA-256 as `validator.signing` computes them (a test holds them equal).
library TesseraSigning {
    bytes4 internal constant DOMAIN_BALLOT = 0x01000000;
    bytes4 internal constant DOMAIN_ATTESTATION = 0x02000000;
    bytes4 internal constant DOMAIN_SEED = 0x03000000;
    /// sha256(32 zero bytes || 32 zero bytes): the root of two empty leaves.
    bytes32 private constant ZERO_PAIR = 0xf5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b;

    /// compute_ballot_signing_root: hash_tree_root(BallotMessage(domain, chain_id, epoch, seed)),
    /// four 32-byte leaves merkleized with SHA-256.
    function ballotRoot(uint64 chainId, uint64 epoch, bytes32 seed) internal view returns (bytes32) {
        return _pair(_pair(bytes32(DOMAIN_BALLOT), leaf64(chainId)), _pair(leaf64(epoch), seed));
    }

    /// compute_attestation_signing_root: hash_tree_root(AttestationMessage(domain, chain_id, epoch,
    /// quorum, data_root)), five 32-byte leaves padded to eight, merkleized with SHA-256.
    function attestationRoot(uint64 chainId, uint64 epoch, uint64 quorum, bytes32 dataRoot)
        internal
        view
        returns (bytes32)
    {
        bytes32 left = _pair(_pair(bytes32(DOMAIN_ATTESTATION), leaf64(chainId)), _pair(leaf64(epoch), leaf64(quorum)));
        bytes32 right = _pair(_pair(dataRoot, bytes32(0)), ZERO_PAIR);
        return _pair(left, right);
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
        return bytes8(reverse64(value));
    }

    /// The bytes of a uint64 in the opposite order (little-endian <-> big-endian).
    function reverse64(uint64 value) internal pure returns (uint64) {
        unchecked {
            value = ((value & 0xff00ff00ff00ff00) >> 8) | ((value & 0x00ff00ff00ff00ff) << 8);
            value = ((value & 0xffff0000ffff0000) >> 16) | ((value & 0x0000ffff0000ffff) << 16);
            return (value >> 32) | (value << 32);
        }
    }

    /// sha256(a || b), in the scratch space.
    function _pair(bytes32 a, bytes32 b) private view returns (bytes32 digest) {
        assembly ("memory-safe") {
            mstore(0, a)
            mstore(0x20, b)
            if iszero(staticcall(gas(), 0x02, 0, 0x40, 0, 0x20)) { revert(0, 0) }
            digest := mload(0)
        }
    }
}
