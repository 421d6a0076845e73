// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import "./core/TesseraCertificate.sol";

/// Test-only: the certificate library's functions as external calls.
contract TesseraCertificateHarness {
    function decode(bytes calldata data)
        external
        pure
        returns (
            bool ok,
            bytes32 dataRoot,
            uint64 epoch,
            uint64 quorum,
            uint256 signerBits,
            uint256 signedSlots,
            bytes memory signature,
            bool[] memory bits
        )
    {
        TesseraCertificate.Certificate memory certificate;
        (ok, certificate) = TesseraCertificate.decode(data);
        bits = new bool[](certificate.signerBits);
        for (uint256 i = 0; i < bits.length; i++) bits[i] = TesseraCertificate.signed(certificate, i);
        return (
            ok,
            certificate.dataRoot,
            certificate.epoch,
            certificate.quorum,
            certificate.signerBits,
            certificate.signedSlots,
            certificate.signature,
            bits
        );
    }

    function signingRoot(uint64 chainId, uint64 epoch, uint64 quorum, bytes32 dataRoot)
        external
        view
        returns (bytes32)
    {
        return TesseraCertificate.signingRoot(chainId, epoch, quorum, dataRoot);
    }

    function threshold(uint256 slots) external pure returns (uint256) {
        return TesseraCertificate.threshold(slots);
    }
}
