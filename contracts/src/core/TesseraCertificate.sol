// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import "./TesseraSigning.sol";

/// @title The availability certificate on-chain: its SSZ decoding and the message its aggregate
/// signature covers (specs/validator.md, Certificate encoding and Signed messages).
/// @notice Pure functions, the same verdicts as `validator.certificate.bytes_to_certificate` and
/// `validator.signing.compute_attestation_signing_root` (a test holds them equal); the checks that
/// need the epoch's quorum (membership, threshold, the pairing) build on them.
library TesseraCertificate {
    uint256 internal constant MAX_QUORUM_SLOTS = 256;
    uint256 internal constant FIXED_BYTES = 32 + 8 + 8 + 4 + 96; // 148
    uint256 internal constant MAX_BYTES = FIXED_BYTES + MAX_QUORUM_SLOTS / 8 + 1; // 181

    struct Certificate {
        bytes32 dataRoot;
        uint64 epoch;
        uint64 quorum;
        uint256 signerBits; // length of the signer bitlist: the quorum's slot count
        uint256 signedSlots; // bits set
        bytes signers; // the bitlist bytes, delimiter included
        bytes signature; // 96 bytes, compressed G2
    }

    /// Decode `data` as bytes_to_certificate does; `ok` is false where it raises MalformedCertificate.
    function decode(bytes calldata data) internal pure returns (bool ok, Certificate memory certificate) {
        if (data.length < FIXED_BYTES + 1 || data.length > MAX_BYTES) return (false, certificate);
        if (_uint32le(data[48:52]) != FIXED_BYTES) return (false, certificate);
        bytes calldata bits = data[FIXED_BYTES:];
        uint8 last = uint8(bits[bits.length - 1]);
        if (last == 0) return (false, certificate); // no length delimiter
        uint256 length = 8 * (bits.length - 1) + _bitLength(last) - 1;
        if (length > MAX_QUORUM_SLOTS) return (false, certificate);
        certificate.dataRoot = bytes32(data[0:32]);
        certificate.epoch = _uint64le(data[32:40]);
        certificate.quorum = _uint64le(data[40:48]);
        certificate.signerBits = length;
        certificate.signedSlots = _countBits(bits);
        certificate.signers = bits;
        certificate.signature = data[52:148];
        return (true, certificate);
    }

    /// Whether slot `index` of the quorum signed (bit `index % 8` of byte `index / 8`).
    function signed(Certificate memory certificate, uint256 index) internal pure returns (bool) {
        return index < certificate.signerBits && (uint8(certificate.signers[index / 8]) >> (index % 8)) & 1 == 1;
    }

    /// compute_attestation_signing_root (TesseraSigning.attestationRoot).
    function signingRoot(uint64 chainId, uint64 epoch, uint64 quorum, bytes32 dataRoot)
        internal
        view
        returns (bytes32)
    {
        return TesseraSigning.attestationRoot(chainId, epoch, quorum, dataRoot);
    }

    /// The smallest number of signed slots that certifies a quorum of `slots` slots: ceil(2 slots / 3)
    /// (Preset.certificate_threshold with the presets' 2/3).
    function threshold(uint256 slots) internal pure returns (uint256) {
        return (2 * slots + 2) / 3;
    }

    function _uint32le(bytes calldata b) private pure returns (uint256) {
        return uint256(TesseraSigning.reverse64(uint64(bytes8(b[0:4])))); // 4 bytes, then 4 zeros
    }

    function _uint64le(bytes calldata b) private pure returns (uint64) {
        return TesseraSigning.reverse64(uint64(bytes8(b[0:8])));
    }

    function _bitLength(uint8 value) private pure returns (uint256 length) {
        while (value != 0) {
            length++;
            value >>= 1;
        }
    }

    /// Signer bits set: every set bit of the bitlist but its delimiter (the highest set bit, with
    /// nothing above it).
    function _countBits(bytes calldata bits) private pure returns (uint256 count) {
        for (uint256 start = 0; start < bits.length; start += 32) {
            uint256 word = uint256(bytes32(bits[start:start + _min(32, bits.length - start)]));
            count += _popcount(word);
        }
        return count - 1;
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    /// Set bits of a word (SWAR: pairs, nibbles, bytes, then folded lanes).
    function _popcount(uint256 x) private pure returns (uint256) {
        unchecked {
            x = x - ((x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555);
            x = (x & 0x3333333333333333333333333333333333333333333333333333333333333333)
                + ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            x = (x & 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff)
                + ((x >> 8) & 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff);
            x = (x & 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff)
                + ((x >> 16) & 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff);
            x = (x & 0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff)
                + ((x >> 32) & 0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff);
            x = (x & 0x0000000000000000ffffffffffffffff0000000000000000ffffffffffffffff)
                + ((x >> 64) & 0x0000000000000000ffffffffffffffff0000000000000000ffffffffffffffff);
            return (x & type(uint128).max) + (x >> 128);
        }
    }
}
