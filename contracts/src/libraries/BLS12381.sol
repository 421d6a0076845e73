// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title BLS12381
/// @notice BLS signatures of the proof-of-possession scheme (blspy's PopSchemeMPL, ciphersuite
///         BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_): public keys in G1, signatures in G2,
///         checked on the EIP-2537 precompiles (live from Prague). Internal functions only, so the
///         library is inlined into the contracts that use it.
/// @dev Precompiles, and the gas each call is sent (a fixed budget, never all the gas left):
///
///   | address | precompile          | gas                                                       |
///   |---------|---------------------|-----------------------------------------------------------|
///   | 0x02    | SHA256              | 60 + 12 per word (Solidity's `sha256`)                    |
///   | 0x05    | MODEXP              | 200 (EIP-2565), 500 from Osaka (EIP-7883); budget 500     |
///   | 0x0b    | BLS12_G1ADD         | 375                                                       |
///   | 0x0d    | BLS12_G2ADD         | 600                                                       |
///   | 0x0f    | BLS12_PAIRING_CHECK | 32600 * k + 37700; verify has k = 2 pairs: 102900         |
///   | 0x11    | BLS12_MAP_FP2_TO_G2 | 23800 (the output has its cofactor cleared)               |
///
///   EIP-2537 encoding: an Fp element is 64 bytes, 16 zero bytes then the 48-byte big-endian value,
///   which must be below p; Fp2 is c0 then c1; a G1 point is x then y (128 bytes), a G2 point x then
///   y (256 bytes); the point at infinity is all zero bytes.
///
///   Pitfalls:
///   - A failing BLS precompile (bad encoding, coordinate not below p, point off the curve or
///     outside the subgroup) consumes all the gas it was sent. So each call is sent its price, and
///     a failure is a `false` verdict, never a revert of the caller.
///   - EIP-150's 63/64 rule: a transaction sent with too little gas would hand a precompile less than
///     its price, the call would fail, and a valid signature would read as `false` (a relayer could
///     do that on purpose). Each call first checks the budget fits and reverts `NotEnoughGas` if it
///     does not: `false` always means "not a valid signature", never "ran short of gas".
///   - A call to an address without a precompile (a chain before Prague) succeeds and returns
///     nothing, so every call checks the length of what came back.
///   - The pairing check accepts infinity, and e(O, H(m)) * e(-g1, O) == 1: an infinite key with an
///     infinite signature would verify any message. `verify` rejects either being infinity.
///   - The pairing check does the curve and subgroup checks of both groups; the
///     `*MatchesCompressed` functions only tie an EIP-2537 point to its compressed form.
///   - Compressed points (ZCash format, as blspy writes them) carry three flags in the top bits of
///     the first byte (0x80 compressed, 0x40 infinity, 0x20 y is the larger root), and a G2 point
///     writes x.c1 before x.c0, the opposite of EIP-2537's order.
///   - A repricing of these precompiles would need a new library: the budgets are their prices.
library BLS12381 {
    /// @notice The transaction had too little gas left to pay a precompile its price.
    error NotEnoughGas(uint256 gasLeft, uint256 gasNeeded);
    /// @notice A precompile gave no answer: the chain does not implement EIP-2537 (before Prague).
    error PrecompileMissing();

    address private constant MODEXP = address(0x05);
    address private constant BLS12_G1ADD = address(0x0b);
    address private constant BLS12_G2ADD = address(0x0d);
    address private constant BLS12_PAIRING_CHECK = address(0x0f);
    address private constant BLS12_MAP_FP2_TO_G2 = address(0x11);

    uint256 private constant MODEXP_GAS = 500;
    uint256 private constant BLS12_G1ADD_GAS = 375;
    uint256 private constant BLS12_G2ADD_GAS = 600;
    uint256 private constant BLS12_PAIRING_CHECK_2_PAIRS_GAS = 2 * 32_600 + 37_700;
    uint256 private constant BLS12_MAP_FP2_TO_G2_GAS = 23_800;
    /// @dev The opcodes between the gas check and the call, with room to spare.
    uint256 private constant CALL_OVERHEAD_GAS = 1_000;

    uint256 internal constant FP_BYTES = 64;
    uint256 internal constant G1_POINT_BYTES = 128;
    uint256 internal constant G2_POINT_BYTES = 256;
    uint256 internal constant G1_COMPRESSED_BYTES = 48;
    uint256 internal constant G2_COMPRESSED_BYTES = 96;

    /// @dev The base field modulus p, as the two 32-byte words of its 64-byte EIP-2537 encoding.
    uint256 private constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 private constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;
    /// @dev (p - 1) / 2: a y above it is the larger of its two roots (the ZCash sign flag).
    uint256 private constant HALF_P_HI = 0x0d0088f51cbff34d258dd3db21a5d66b;
    uint256 private constant HALF_P_LO = 0xb23ba5c279c2895fb39869507b587b120f55ffff58a9ffffdcff7fffffffd555;

    uint8 private constant COMPRESSED_FLAG = 0x80;
    uint8 private constant INFINITY_FLAG = 0x40;
    uint8 private constant SIGN_FLAG = 0x20;
    /// @dev Clears the three flag bits from the top 16 bytes of a compressed coordinate.
    uint256 private constant FLAGS_CLEARED = (1 << 125) - 1;

    /// @dev DST_prime of RFC 9380 expand_message_xmd is the DST
    ///      "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_" then its length (43 = 0x2b, "+"), written
    ///      by _expandMessageXmd; len_in_bytes = count (2) * m (2) * L (64) = 256: four 64-byte
    ///      blocks, eight SHA-256 outputs.
    uint256 private constant XMD_BLOCKS = 8;

    /// @dev The negated G1 generator, EIP-2537 encoded: verify checks e(pk, H(m)) * e(-g1, sig) == 1.
    bytes private constant NEG_G1_GENERATOR =
        hex"0000000000000000000000000000000017f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
        hex"00000000000000000000000000000000114d1d6855d545a8aa7d76c8cf2e21f267816aef1db507c96655b9d5caac42364e6f38ba0ecb751bad54dcd6b939c2ca";

    /// @notice RFC 9380 hash_to_curve (BLS12381G2_XMD:SHA-256_SSWU_RO_) with the PoP scheme's DST,
    ///         as a 256-byte EIP-2537 G2 point. Reverts `NotEnoughGas` on a transaction short of gas,
    ///         `PrecompileMissing` on a chain without EIP-2537; nothing else can fail.
    function hashToG2(bytes memory message) internal view returns (bytes memory point256) {
        bool ok;
        (ok, point256) = _tryHashToG2(message);
        if (!ok) revert PrecompileMissing();
    }

    /// @notice True iff `signature` (256-byte EIP-2537 G2) is `publicKey`'s (128-byte EIP-2537 G1)
    ///         PoP-scheme signature of `message`. False, never a revert, for anything else: wrong
    ///         lengths, infinity, bad encodings, points off the curve or outside the subgroup.
    function verify(bytes memory publicKey, bytes memory message, bytes memory signature)
        internal
        view
        returns (bool)
    {
        if (publicKey.length != G1_POINT_BYTES || signature.length != G2_POINT_BYTES) return false;
        if (_isZero(publicKey) || _isZero(signature)) return false;
        (bool ok, bytes memory hashed) = _tryHashToG2(message);
        if (!ok) return false;
        bytes memory output;
        (ok, output) = _staticcall(
            BLS12_PAIRING_CHECK,
            bytes.concat(publicKey, hashed, NEG_G1_GENERATOR, signature),
            BLS12_PAIRING_CHECK_2_PAIRS_GAS,
            32
        );
        return ok && uint256(bytes32(output)) == 1;
    }

    /// @notice The sum of two 128-byte EIP-2537 G1 points; `ok` is false if the precompile refused
    ///         them (bad encoding, off the curve). G1ADD does not check the subgroup: add only keys
    ///         whose subgroup was checked (the registry's, by the pairing of their proof of possession).
    function g1Add(bytes memory a, bytes memory b) internal view returns (bool ok, bytes memory sum) {
        if (a.length != G1_POINT_BYTES || b.length != G1_POINT_BYTES) return (false, "");
        return _staticcall(BLS12_G1ADD, bytes.concat(a, b), BLS12_G1ADD_GAS, G1_POINT_BYTES);
    }

    /// @notice The sum of the 128-byte EIP-2537 G1 points in `points` (concatenated from byte
    ///         `offset` on) whose byte in `include` is 0x01: one G1ADD per point after the first,
    ///         into one reused buffer. The sum of no points is infinity (zero bytes, which `verify`
    ///         refuses). `ok` is false if the precompile refused a point. As `g1Add`, no subgroup check.
    function sumG1(bytes memory points, uint256 offset, bytes memory include)
        internal
        view
        returns (bool ok, bytes memory sum)
    {
        if (points.length < offset + include.length * G1_POINT_BYTES) return (false, "");
        bytes memory pair = new bytes(2 * G1_POINT_BYTES); // the running sum, then the next point
        uint256 needed = BLS12_G1ADD_GAS + BLS12_G1ADD_GAS / 63 + CALL_OVERHEAD_GAS;
        ok = true;
        bool empty = true;
        for (uint256 m = 0; m < include.length && ok; m++) {
            if (include[m] != 0x01) continue;
            uint256 target = empty ? 0 : G1_POINT_BYTES;
            assembly ("memory-safe") {
                mcopy(add(add(pair, 0x20), target), add(add(points, 0x20), add(offset, mul(m, 128))), 128)
            }
            if (empty) {
                empty = false;
                continue;
            }
            if (gasleft() < needed) revert NotEnoughGas(gasleft(), needed);
            address precompile = BLS12_G1ADD;
            assembly ("memory-safe") {
                let buffer := add(pair, 0x20)
                ok := staticcall(BLS12_G1ADD_GAS, precompile, buffer, 256, buffer, 128)
                ok := and(ok, eq(returndatasize(), 128))
            }
        }
        sum = new bytes(G1_POINT_BYTES);
        assembly ("memory-safe") {
            mcopy(add(sum, 0x20), add(pair, 0x20), 128)
        }
    }

    /// @notice True iff the 48-byte ZCash-format `compressed` G1 point is the 128-byte EIP-2537
    ///         `point`: same x, the sign flag saying whether y is the larger root, both coordinates
    ///         below p, neither side infinity. Does not check the curve equation (the pairing does).
    function g1MatchesCompressed(bytes memory compressed, bytes memory point) internal pure returns (bool) {
        if (compressed.length != G1_COMPRESSED_BYTES || point.length != G1_POINT_BYTES) return false;
        (bool ok, bool yIsLarger) = _checkFlags(compressed, point);
        return ok && _sameX(point, 0, compressed, 0, true) && yIsLarger == _isLarger(point, FP_BYTES);
    }

    /// @notice As `g1MatchesCompressed`, for a 96-byte compressed G2 point (x.c1, carrying the flags,
    ///         then x.c0) and its 256-byte EIP-2537 form (x.c0, x.c1, y.c0, y.c1). The sign flag
    ///         compares y.c1, or y.c0 when y.c1 is zero.
    function g2MatchesCompressed(bytes memory compressed, bytes memory point) internal pure returns (bool) {
        if (compressed.length != G2_COMPRESSED_BYTES || point.length != G2_POINT_BYTES) return false;
        (bool ok, bool yIsLarger) = _checkFlags(compressed, point);
        if (!ok || !_sameX(point, 0, compressed, G1_COMPRESSED_BYTES, false)) return false;
        if (!_sameX(point, FP_BYTES, compressed, 0, true)) return false;
        (uint256 yc1Hi, uint256 yc1Lo) = _fpAt(point, 3 * FP_BYTES);
        uint256 signOffset = (yc1Hi | yc1Lo) == 0 ? 2 * FP_BYTES : 3 * FP_BYTES;
        return yIsLarger == _isLarger(point, signOffset);
    }

    /// @dev expand_message_xmd, hash_to_field (four 64-byte blocks reduced mod p), two maps to G2
    ///      (each clears the cofactor) and their sum. `ok` is false only if a precompile failed.
    function _tryHashToG2(bytes memory message) private view returns (bool ok, bytes memory point) {
        bytes32[XMD_BLOCKS] memory uniform = _expandMessageXmd(message);
        (bool ok0, bytes memory q0) = _mapToG2(uniform, 0);
        (bool ok1, bytes memory q1) = _mapToG2(uniform, 4);
        if (!ok0 || !ok1) return (false, "");
        return _staticcall(BLS12_G2ADD, bytes.concat(q0, q1), BLS12_G2ADD_GAS, G2_POINT_BYTES);
    }

    /// @dev RFC 9380 section 5.3.1 with SHA-256 (b_in_bytes 32, s_in_bytes 64): b_1 .. b_8, built in
    ///      one scratch buffer (the hashes dominate every verify's cost outside the precompiles).
    function _expandMessageXmd(bytes memory message) private view returns (bytes32[XMD_BLOCKS] memory uniform) {
        // msg_prime = Z_pad (a zero SHA-256 block, 64 bytes) || msg || I2OSP(len_in_bytes, 2)
        //             || I2OSP(0, 1) || DST_prime; b_i = H(strxor(b_0, b_(i-1)) || I2OSP(i, 1) || DST_prime)
        bool ok = true;
        assembly ("memory-safe") {
            let length := mload(message)
            let buffer := mload(0x40)
            mstore(buffer, 0)
            mstore(add(buffer, 32), 0)
            mcopy(add(buffer, 64), add(message, 0x20), length)
            let tail := add(add(buffer, 64), length)
            mstore(tail, shl(232, 0x010000)) // I2OSP(256, 2) || I2OSP(0, 1)
            mstore(add(tail, 3), "BLS_SIG_BLS12381G2_XMD:SHA-256_S")
            mstore(add(tail, 35), "SWU_RO_POP_+") // "+" is 0x2b, the DST's length (43)
            ok := and(ok, staticcall(gas(), 0x02, buffer, add(add(64, length), 47), buffer, 32))
            let b0 := mload(buffer)
            // The block after b_0: previous (32) || i (1) || DST_prime (44).
            let next := add(buffer, 32)
            mstore(add(next, 33), "BLS_SIG_BLS12381G2_XMD:SHA-256_S")
            mstore(add(next, 65), "SWU_RO_POP_+")
            let previous := 0
            for { let i := 0 } lt(i, XMD_BLOCKS) { i := add(i, 1) } {
                mstore(next, xor(b0, previous))
                mstore8(add(next, 32), add(i, 1))
                ok := and(ok, staticcall(gas(), 0x02, next, 77, add(uniform, mul(i, 32)), 32))
                previous := mload(add(uniform, mul(i, 32)))
            }
        }
        if (!ok) revert PrecompileMissing();
    }

    /// @dev Maps u = (e_k, e_k+1) to G2, where e_k is the 64-byte block at words `first`, `first` + 1.
    function _mapToG2(bytes32[XMD_BLOCKS] memory uniform, uint256 first)
        private
        view
        returns (bool ok, bytes memory point)
    {
        (bool ok0, bytes memory c0) = _reduce(uniform[first], uniform[first + 1]);
        (bool ok1, bytes memory c1) = _reduce(uniform[first + 2], uniform[first + 3]);
        if (!ok0 || !ok1) return (false, "");
        return _staticcall(BLS12_MAP_FP2_TO_G2, bytes.concat(c0, c1), BLS12_MAP_FP2_TO_G2_GAS, G2_POINT_BYTES);
    }

    /// @dev (high || low) mod p as MODEXP's base^1 mod p, whose 64-byte output (the modulus's length)
    ///      is already the EIP-2537 encoding.
    function _reduce(bytes32 high, bytes32 low) private view returns (bool ok, bytes memory fp) {
        bytes memory input = abi.encodePacked(FP_BYTES, uint256(1), FP_BYTES, high, low, uint8(1), P_HI, P_LO);
        return _staticcall(MODEXP, input, MODEXP_GAS, FP_BYTES);
    }

    /// @dev Calls `precompile` with exactly `budget` gas; ok iff it succeeded and returned
    ///      `outputBytes` bytes.
    function _staticcall(address precompile, bytes memory input, uint256 budget, uint256 outputBytes)
        private
        view
        returns (bool ok, bytes memory output)
    {
        output = new bytes(outputBytes);
        // The callee gets at most 63/64 of the gas left (EIP-150): ask for 1/63 more than the budget.
        uint256 needed = budget + budget / 63 + CALL_OVERHEAD_GAS;
        if (gasleft() < needed) revert NotEnoughGas(gasleft(), needed);
        assembly ("memory-safe") {
            ok := staticcall(budget, precompile, add(input, 0x20), mload(input), add(output, 0x20), outputBytes)
            // An address without a precompile "succeeds" with no output.
            ok := and(ok, eq(returndatasize(), outputBytes))
        }
    }

    /// @dev Compressed flag set, infinity flag clear, both sides' coordinates below p, the EIP-2537
    ///      point not all zero (its infinity); returns the sign flag.
    function _checkFlags(bytes memory compressed, bytes memory point)
        private
        pure
        returns (bool ok, bool yIsLarger)
    {
        uint8 flags = uint8(compressed[0]);
        if ((flags & (COMPRESSED_FLAG | INFINITY_FLAG)) != COMPRESSED_FLAG) return (false, false);
        if (_isZero(point)) return (false, false);
        for (uint256 offset = 0; offset < point.length; offset += FP_BYTES) {
            (uint256 hi, uint256 lo) = _fpAt(point, offset);
            if (hi > P_HI || (hi == P_HI && lo >= P_LO)) return (false, false);
        }
        return (true, (flags & SIGN_FLAG) != 0);
    }

    /// @dev Whether the Fp at `pointOffset` of the EIP-2537 point equals the 48-byte coordinate at
    ///      `compressedOffset` of the compressed point (`flagged`: its top three bits are flags).
    function _sameX(
        bytes memory point,
        uint256 pointOffset,
        bytes memory compressed,
        uint256 compressedOffset,
        bool flagged
    ) private
        pure
        returns (bool)
    {
        (uint256 hi, uint256 lo) = _fpAt(point, pointOffset);
        uint256 cHi;
        uint256 cLo;
        assembly ("memory-safe") {
            let start := add(add(compressed, 0x20), compressedOffset)
            cHi := shr(128, mload(start))
            cLo := mload(add(start, 16))
        }
        if (flagged) cHi &= FLAGS_CLEARED;
        return hi == cHi && lo == cLo;
    }

    /// @dev Whether the Fp at `offset` is above (p - 1) / 2.
    function _isLarger(bytes memory point, uint256 offset) private pure returns (bool) {
        (uint256 hi, uint256 lo) = _fpAt(point, offset);
        return hi > HALF_P_HI || (hi == HALF_P_HI && lo > HALF_P_LO);
    }

    /// @dev The 64-byte Fp at `offset` as two words: `hi` holds the 16 padding bytes and the value's
    ///      top 16 bytes (so a nonzero padding makes `hi` exceed P_HI), `lo` the value's low 32 bytes.
    function _fpAt(bytes memory point, uint256 offset) private pure returns (uint256 hi, uint256 lo) {
        assembly ("memory-safe") {
            let start := add(add(point, 0x20), offset)
            hi := mload(start)
            lo := mload(add(start, 0x20))
        }
    }

    /// @dev Whether every byte is zero; `data.length` is a multiple of 32 (a G1 or G2 point).
    function _isZero(bytes memory data) private pure returns (bool zero) {
        assembly ("memory-safe") {
            let bits := 0
            let start := add(data, 0x20)
            for { let i := 0 } lt(i, mload(data)) { i := add(i, 0x20) } {
                bits := or(bits, mload(add(start, i)))
            }
            zero := iszero(bits)
        }
    }
}
