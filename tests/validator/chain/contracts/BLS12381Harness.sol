// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {BLS12381} from "./libraries/BLS12381.sol";

/// @title BLS12381Harness
/// @notice Test-only (never in the shipped artifact): BLS12381's internal functions as external
///         ones, the gas they use measured inside the EVM, and one transaction that verifies.
contract BLS12381Harness {
    /// @notice One `verifyAndRecord`: the message's keccak256 and the verdict.
    event Verified(bytes32 indexed messageHash, bool valid);

    function hashToG2(bytes calldata message) external view returns (bytes memory) {
        return BLS12381.hashToG2(message);
    }

    function verify(bytes calldata publicKey, bytes calldata message, bytes calldata signature)
        external
        view
        returns (bool)
    {
        return BLS12381.verify(publicKey, message, signature);
    }

    function g1MatchesCompressed(bytes calldata compressed, bytes calldata point) external pure returns (bool) {
        return BLS12381.g1MatchesCompressed(compressed, point);
    }

    function g2MatchesCompressed(bytes calldata compressed, bytes calldata point) external pure returns (bool) {
        return BLS12381.g2MatchesCompressed(compressed, point);
    }

    /// @notice A verify inside a transaction, so its receipt shows the gas a caller pays.
    function verifyAndRecord(bytes calldata publicKey, bytes calldata message, bytes calldata signature)
        external
        returns (bool valid)
    {
        valid = BLS12381.verify(publicKey, message, signature);
        emit Verified(keccak256(message), valid);
    }

    /// @notice Gas of `hashToG2` alone (no transaction or calldata cost), measured with gasleft().
    function hashToG2Gas(bytes calldata message) external view returns (uint256 gasUsed) {
        bytes memory copy = message;
        uint256 before = gasleft();
        BLS12381.hashToG2(copy);
        gasUsed = before - gasleft();
    }

    /// @notice Gas of `verify` alone, and its verdict.
    function verifyGas(bytes calldata publicKey, bytes calldata message, bytes calldata signature)
        external
        view
        returns (bool valid, uint256 gasUsed)
    {
        (bytes memory key, bytes memory copy, bytes memory sig) = (publicKey, message, signature);
        uint256 before = gasleft();
        valid = BLS12381.verify(key, copy, sig);
        gasUsed = before - gasleft();
    }
}
