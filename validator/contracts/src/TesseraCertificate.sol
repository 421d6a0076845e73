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
        certificate.signedSlots = _countBits(bits, length);
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
        pure
        returns (bytes32)
    {
        return TesseraSigning.attestationRoot(chainId, epoch, quorum, dataRoot);
    }

    /// The smallest number of signed slots that certifies a quorum of `slots` slots: ceil(2 slots / 3)
    /// (Preset.certificate_threshold with the presets' 2/3).
    function threshold(uint256 slots) internal pure returns (uint256) {
        return (2 * slots + 2) / 3;
    }

    function _uint32le(bytes calldata b) private pure returns (uint256 value) {
        for (uint256 i = 0; i < 4; i++) value |= uint256(uint8(b[i])) << (8 * i);
    }

    function _uint64le(bytes calldata b) private pure returns (uint64 value) {
        for (uint256 i = 0; i < 8; i++) value |= uint64(uint8(b[i])) << uint64(8 * i);
    }

    function _bitLength(uint8 value) private pure returns (uint256 length) {
        while (value != 0) {
            length++;
            value >>= 1;
        }
    }

    function _countBits(bytes calldata bits, uint256 length) private pure returns (uint256 count) {
        for (uint256 i = 0; i < length; i++) {
            if ((uint8(bits[i / 8]) >> (i % 8)) & 1 == 1) count++;
        }
    }
}
