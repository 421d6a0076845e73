// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import "../core/TesseraCertificate.sol";
import "../core/TesseraVerifier.sol";

/// @title An example rollup inbox: it accepts a batch commitment only with a Tessera availability
/// certificate for the batch's data root (specs/validator.md, On-chain certificate checks).
/// @notice A rollup's sequencer posts the batch as a blob (`das blob post --wait`), makes its quorum
/// checkable (`das cert publish`), then calls `submitBatch`. The inbox asks the verifier and keeps the
/// batch only if the certificate is valid and certifies exactly `dataRoot`; any other verdict reverts
/// with the verifier's status, so nothing unavailable is ever accepted.
contract RollupInbox {
    struct Batch {
        bytes32 commitment; // the rollup's own commitment to the batch (e.g. a state root)
        bytes32 dataRoot; // the Tessera data root the batch's bytes are available under
        uint64 epoch;
        uint64 quorum;
    }

    TesseraVerifier public immutable verifier;
    Batch[] public batches;

    event BatchAccepted(uint256 indexed number, bytes32 indexed dataRoot, bytes32 commitment, uint64 epoch, uint64 quorum);

    error CertificateRejected(TesseraVerifier.Status status);
    error DataRootMismatch(bytes32 certified, bytes32 claimed);

    constructor(TesseraVerifier verifier_) {
        verifier = verifier_;
    }

    /// Accept batch `commitment` whose data is the blob of `dataRoot`, given a valid certificate of
    /// that data root (its SSZ bytes and its signature's EIP-2537 point); returns the batch number.
    function submitBatch(bytes32 commitment, bytes32 dataRoot, bytes calldata certificate, bytes calldata signaturePoint)
        external
        returns (uint256 number)
    {
        (TesseraVerifier.Status status,,) = verifier.checkCertificate(certificate, signaturePoint);
        if (status != TesseraVerifier.Status.Valid) revert CertificateRejected(status);
        (, TesseraCertificate.Certificate memory decoded) = TesseraCertificate.decode(certificate);
        if (decoded.dataRoot != dataRoot) revert DataRootMismatch(decoded.dataRoot, dataRoot);
        number = batches.length;
        batches.push(Batch({commitment: commitment, dataRoot: dataRoot, epoch: decoded.epoch, quorum: decoded.quorum}));
        emit BatchAccepted(number, dataRoot, commitment, decoded.epoch, decoded.quorum);
    }

    function batchCount() external view returns (uint256) {
        return batches.length;
    }
}
