// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import "../libraries/BLS12381.sol";
import "./TesseraCertificate.sol";
import "./TesseraRegistry.sol";

/// @title Availability certificates checked on-chain against quorums drawn from the registry
/// (specs/validator.md, "On-chain certificate checks").
/// @notice Three steps, each permissionless, none trusting its caller:
///   1. `commitQuorums(epoch, validators, ordinals)`: anyone submits every slot of a started epoch
///      sorted by value (compute_slots); the contract recomputes each value from the registry's
///      verified VRF outputs, checks the order, each ordinal against the validator's stake and the
///      count against the total, and stores a hash of each quorum's slot list (cut_into_quorums).
///   2. `publishQuorum(epoch, quorum, slotValidators)`: anyone writes one committed quorum's members
///      and EIP-2537 keys into the code of a data contract (read back with EXTCODECOPY).
///   3. `checkCertificate(certificate, signaturePoint)`: a view that returns a status code, never a
///      revert for a wrong certificate, so a rollup's contract can branch on it.
contract TesseraVerifier {
    /// Returned by `protocol()`.
    string public constant PROTOCOL = "tessera-verifier/1";
    /// A quorum's slot count fits the data contract's one-byte fields (presets keep QUORUM_SLOTS <= 128).
    uint256 public constant MAX_QUORUM_SLOTS = 128;
    /// Data contract layout (after the STOP byte): counts, the members' key sum, then the members.
    uint256 private constant TOTAL_AT = 2;
    uint256 private constant MEMBERS_AT = 2 + 128;
    uint256 private constant MEMBER_BYTES = 32 + 128;
    uint256 private constant G1ADD_GAS = 375;
    /// The base field modulus p as the two words of its 64-byte EIP-2537 encoding (negating keys).
    uint256 private constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 private constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;

    /// The verdict of checkCertificate; the same codes as validator.certificate.CertificateStatus
    /// (which adds WrongEpoch = 9, for an offline check given another epoch's context).
    enum Status {
        Valid,
        Malformed, // the bytes are not a certificate (bytes_to_certificate raises)
        EpochNotCommitted, // nobody has committed this epoch's quorums yet
        NoSuchQuorum, // the epoch has fewer quorums
        QuorumNotPublished, // the quorum is committed but its keys are not published yet
        WrongSignerCount, // the bitfield's length is not the quorum's slot count
        PartialSigner, // a validator's slots are only partly marked as signed
        BelowThreshold, // fewer signed slots than the 2/3 threshold
        InvalidSignature // the aggregate signature does not verify, or signaturePoint is not the signature
    }

    struct EpochQuorums {
        bool committed;
        uint32 slots; // every slot of the epoch (the remainder past the last full quorum included)
        uint32 quorums;
    }

    TesseraRegistry public immutable registry;
    uint256 public immutable quorumSlots;
    uint256 public immutable stakePerSlot;
    uint256 public immutable maxSlotsPerValidator;

    mapping(uint64 => EpochQuorums) public epochQuorums;
    /// keccak256 of a quorum's slot list (one 32-byte word per slot: its validator index), by epoch, quorum.
    mapping(uint64 => mapping(uint64 => bytes32)) public quorumHash;
    /// The data contract holding a published quorum's slots and keys, by epoch and quorum.
    mapping(uint64 => mapping(uint64 => address)) public quorumData;

    event QuorumsCommitted(uint64 indexed epoch, uint32 quorums, uint32 slots);
    event QuorumPublished(uint64 indexed epoch, uint64 indexed quorum, address data, uint32[] members);

    error EpochNotStarted(uint64 epoch);
    error AlreadyCommitted(uint64 epoch);
    error NotCommitted(uint64 epoch);
    error NoSuchQuorum(uint64 epoch, uint64 quorum);
    error AlreadyPublished(uint64 epoch, uint64 quorum);
    error LengthMismatch(uint256 validators, uint256 ordinals);
    error NotAVoter(uint256 position, uint32 validator);
    error OrdinalOutOfRange(uint256 position, uint32 validator, uint8 ordinal, uint256 slots);
    error SlotsOutOfOrder(uint256 position);
    error WrongSlotCount(uint256 given, uint256 expected);
    error SlotListMismatch(uint64 epoch, uint64 quorum);
    error DataContractFailed();
    error InvalidPreset();

    constructor(TesseraRegistry registry_, uint256 quorumSlots_, uint256 stakePerSlot_, uint256 maxSlotsPerValidator_) {
        if (
            quorumSlots_ == 0 || quorumSlots_ > MAX_QUORUM_SLOTS || stakePerSlot_ == 0 || maxSlotsPerValidator_ == 0
                || maxSlotsPerValidator_ > 256 // ordinals are uint8
        ) {
            revert InvalidPreset();
        }
        registry = registry_;
        quorumSlots = quorumSlots_;
        stakePerSlot = stakePerSlot_;
        maxSlotsPerValidator = maxSlotsPerValidator_;
    }

    function protocol() external pure returns (string memory) {
        return PROTOCOL;
    }

    // --- 1. committing an epoch's quorums ------------------------------------------------------

    /// Commit the quorums of `epoch` (started, so its ballots and stake are final) from every slot of
    /// the epoch in draw order: slot i is `ordinals[i]`-th slot of `validators[i]`. Reverts, naming the
    /// first bad position, unless the list is exactly compute_slots of the epoch.
    function commitQuorums(uint64 epoch, uint32[] calldata validators, uint8[] calldata ordinals) external {
        if (registry.beforeGenesis() || registry.currentEpoch() < epoch) revert EpochNotStarted(epoch);
        if (epochQuorums[epoch].committed) revert AlreadyCommitted(epoch);
        if (validators.length != ordinals.length) revert LengthMismatch(validators.length, ordinals.length);
        (uint32[] memory voters, bytes32[] memory outputs, uint64[] memory stakes) = registry.ballotDraw(epoch);
        // By validator index: 1 + position in the draw (0: did not vote), and slots bought.
        uint256 count = registry.validatorCount();
        uint256[] memory drawPosition = new uint256[](count);
        uint256 total;
        for (uint256 i = 0; i < voters.length; i++) {
            drawPosition[voters[i]] = i + 1;
            total += _slotCount(stakes[i]);
        }
        if (validators.length != total) revert WrongSlotCount(validators.length, total);
        bytes32 previous;
        for (uint256 i = 0; i < validators.length; i++) {
            uint32 v = validators[i];
            uint256 position = v < count ? drawPosition[v] : 0;
            if (position == 0) revert NotAVoter(i, v);
            uint256 slots = _slotCount(stakes[position - 1]);
            if (ordinals[i] >= slots) revert OrdinalOutOfRange(i, v, ordinals[i], slots);
            bytes32 value = sha256(abi.encodePacked(outputs[position - 1], TesseraSigning.uint64le(ordinals[i])));
            // Strictly increasing by (value, validator, ordinal): sorted, and no slot twice.
            if (i > 0 && !_after(value, v, ordinals[i], previous, validators[i - 1], ordinals[i - 1])) {
                revert SlotsOutOfOrder(i);
            }
            previous = value;
        }
        uint32 quorums;
        if (total > 0 && total < quorumSlots) {
            quorums = 1;
            quorumHash[epoch][0] = keccak256(abi.encodePacked(validators));
        } else {
            quorums = uint32(total / quorumSlots);
            for (uint256 q = 0; q < quorums; q++) {
                quorumHash[epoch][uint64(q)] =
                    keccak256(abi.encodePacked(validators[q * quorumSlots:(q + 1) * quorumSlots]));
            }
        }
        epochQuorums[epoch] = EpochQuorums({committed: true, slots: uint32(total), quorums: quorums});
        emit QuorumsCommitted(epoch, quorums, uint32(total));
    }

    // --- 2. publishing a quorum's keys ---------------------------------------------------------

    /// Write quorum `quorum` of `epoch` into a data contract: `slotValidators` (the validator of each
    /// slot, in slot order) must hash to the committed quorumHash. The data contract's code: 0x00
    /// (STOP, so it cannot run), the slot count and the member count (a byte each), the sum of every
    /// member's key (128 bytes), then per member, in order of first slot, a 32-byte mask of its slots
    /// laid out as the certificate's signer bitlist (slot i: bit i % 8 of byte i / 8) and its 128-byte
    /// EIP-2537 key.
    function publishQuorum(uint64 epoch, uint64 quorum, uint32[] calldata slotValidators) external returns (address data) {
        EpochQuorums memory info = epochQuorums[epoch];
        if (!info.committed) revert NotCommitted(epoch);
        if (quorum >= info.quorums) revert NoSuchQuorum(epoch, quorum);
        if (quorumData[epoch][quorum] != address(0)) revert AlreadyPublished(epoch, quorum);
        if (keccak256(abi.encodePacked(slotValidators)) != quorumHash[epoch][quorum]) {
            revert SlotListMismatch(epoch, quorum);
        }
        uint256 slotCount = slotValidators.length;
        uint32[] memory members = new uint32[](slotCount);
        uint256[] memory masks = new uint256[](slotCount);
        uint256 memberCount;
        for (uint256 i = 0; i < slotCount; i++) {
            uint256 m = 0;
            while (m < memberCount && members[m] != slotValidators[i]) m++;
            if (m == memberCount) members[memberCount++] = slotValidators[i];
            masks[m] |= 1 << ((31 - i / 8) * 8 + (i % 8));
        }
        assembly ("memory-safe") {
            mstore(members, memberCount)
        }
        bytes memory keys = registry.pubkeyPointsOf(members);
        bytes memory all = new bytes(memberCount);
        for (uint256 m = 0; m < memberCount; m++) all[m] = 0x01;
        (bool ok, bytes memory total) = BLS12381.sumG1(keys, 0, all);
        if (!ok) revert DataContractFailed();
        bytes memory blob = new bytes(1 + MEMBERS_AT + memberCount * MEMBER_BYTES);
        blob[1] = bytes1(uint8(slotCount));
        blob[2] = bytes1(uint8(memberCount));
        assembly ("memory-safe") {
            let out := add(blob, 0x21) // after the STOP byte
            mcopy(add(out, TOTAL_AT), add(total, 0x20), 128)
            for { let m := 0 } lt(m, memberCount) { m := add(m, 1) } {
                let entry := add(out, add(MEMBERS_AT, mul(m, MEMBER_BYTES)))
                mstore(entry, mload(add(masks, add(0x20, mul(m, 0x20)))))
                mcopy(add(entry, 32), add(keys, add(0x20, mul(m, 128))), 128)
            }
        }
        // Init code (14 bytes): CODECOPY the blob that follows it to memory 0 and RETURN it.
        bytes2 size = bytes2(uint16(blob.length));
        bytes memory init = bytes.concat(hex"61", size, hex"600e600039", hex"61", size, hex"6000f3", blob);
        assembly ("memory-safe") {
            data := create(0, add(init, 0x20), mload(init))
        }
        if (data == address(0)) revert DataContractFailed();
        quorumData[epoch][quorum] = data;
        emit QuorumPublished(epoch, quorum, data, members);
    }

    // --- 3. checking a certificate -------------------------------------------------------------

    /// The verdict verify_certificate gives `certificate` (its SSZ bytes) against the registry's
    /// quorum, with the signed slots and the threshold once known. `signaturePoint` is the EIP-2537
    /// form (256 bytes) of the certificate's compressed signature (the contract does not decompress).
    function checkCertificate(bytes calldata certificate, bytes calldata signaturePoint)
        external
        view
        returns (Status status, uint256 signedSlots, uint256 threshold)
    {
        (bool ok, TesseraCertificate.Certificate memory cert) = TesseraCertificate.decode(certificate);
        if (!ok) return (Status.Malformed, 0, 0);
        address data = quorumData[cert.epoch][cert.quorum];
        if (data == address(0)) {
            EpochQuorums memory info = epochQuorums[cert.epoch];
            if (!info.committed) return (Status.EpochNotCommitted, 0, 0);
            if (cert.quorum >= info.quorums) return (Status.NoSuchQuorum, 0, 0);
            return (Status.QuorumNotPublished, 0, 0);
        }
        bytes memory blob = _readData(data);
        uint256 slotCount = uint8(blob[0]);
        if (cert.signerBits != slotCount) return (Status.WrongSignerCount, 0, 0);
        (bool consistent, uint256 signers, bytes memory included) = _classifyMembers(cert.signers, blob);
        if (!consistent) return (Status.PartialSigner, 0, 0);
        signedSlots = cert.signedSlots;
        threshold = TesseraCertificate.threshold(slotCount);
        if (signedSlots < threshold) return (Status.BelowThreshold, signedSlots, threshold);
        if (!BLS12381.g2MatchesCompressed(cert.signature, signaturePoint)) {
            return (Status.InvalidSignature, signedSlots, threshold);
        }
        (bool summed, bytes memory aggregate) = _aggregateKey(blob, included, signers);
        bytes32 message = TesseraCertificate.signingRoot(uint64(block.chainid), cert.epoch, cert.quorum, cert.dataRoot);
        if (!summed || !BLS12381.verify(aggregate, abi.encodePacked(message), signaturePoint)) {
            return (Status.InvalidSignature, signedSlots, threshold);
        }
        return (Status.Valid, signedSlots, threshold);
    }

    // --- internals -----------------------------------------------------------------------------

    function _slotCount(uint64 stake) private view returns (uint256) {
        uint256 slots = stake / stakePerSlot;
        return slots < maxSlotsPerValidator ? slots : maxSlotsPerValidator;
    }

    /// (value, validator, ordinal) > (previousValue, previousValidator, previousOrdinal).
    function _after(bytes32 value, uint32 validator, uint8 ordinal, bytes32 previousValue, uint32 previousValidator, uint8 previousOrdinal)
        private
        pure
        returns (bool)
    {
        if (value != previousValue) return uint256(value) > uint256(previousValue);
        if (validator != previousValidator) return validator > previousValidator;
        return ordinal > previousOrdinal;
    }

    /// Per member (`blob` as publishQuorum writes it): signed (its slot mask all set in `signers`),
    /// not signed (none set) or neither, which makes the certificate inconsistent. `included` has 0x01
    /// for each member that signed; `signers` counts them.
    function _classifyMembers(bytes memory signers, bytes memory blob)
        private
        pure
        returns (bool consistent, uint256 signerCount, bytes memory included)
    {
        uint256 memberCount = uint8(blob[1]);
        included = new bytes(memberCount);
        consistent = true;
        assembly ("memory-safe") {
            // Slot masks cover at most 128 slots: the bitlist's first 32 bytes hold every signer bit.
            let bits := mload(add(signers, 0x20))
            let entry := add(blob, add(0x20, MEMBERS_AT))
            let out := add(included, 0x20)
            for { let m := 0 } lt(m, memberCount) { m := add(m, 1) } {
                let mask := mload(add(entry, mul(m, MEMBER_BYTES)))
                let set := and(bits, mask)
                if eq(set, mask) {
                    mstore8(add(out, m), 1)
                    signerCount := add(signerCount, 1)
                }
                if and(iszero(iszero(set)), iszero(eq(set, mask))) {
                    consistent := 0
                    break
                }
            }
        }
    }

    /// The aggregate key of the members `included` marks: their sum, or when more than half signed,
    /// the published sum of all members plus the negation of each non-signer's key (fewer G1ADDs).
    /// `ok` is false if a precompile call failed.
    function _aggregateKey(bytes memory blob, bytes memory included, uint256 signerCount)
        private
        view
        returns (bool ok, bytes memory aggregate)
    {
        uint256 memberCount = included.length;
        bool subtract = 2 * signerCount > memberCount;
        aggregate = new bytes(BLS12381.G1_POINT_BYTES);
        // One check for every call (EIP-150): each G1ADD gets its price, with room for the loop.
        uint256 adds = subtract ? memberCount - signerCount : signerCount;
        uint256 needed = adds * (G1ADD_GAS + G1ADD_GAS / 63 + 300) + memberCount * 100 + 1_000;
        if (gasleft() < needed) revert BLS12381.NotEnoughGas(gasleft(), needed);
        ok = true;
        assembly ("memory-safe") {
            let buffer := mload(0x40) // the running sum, then the next point (256 bytes)
            mstore(0x40, add(buffer, 256))
            let keys := add(blob, add(0x20, add(MEMBERS_AT, 32)))
            let flags := add(included, 0x20)
            let empty := 1
            if subtract {
                mcopy(buffer, add(blob, add(0x20, TOTAL_AT)), 128)
                empty := 0
            }
            for { let m := 0 } and(ok, lt(m, memberCount)) { m := add(m, 1) } {
                let signed := byte(0, mload(add(flags, m)))
                if eq(signed, iszero(subtract)) {
                    let key := add(keys, mul(m, MEMBER_BYTES))
                    switch empty
                    case 1 {
                        mcopy(buffer, key, 128)
                        empty := 0
                    }
                    default {
                        let next := add(buffer, 128)
                        mcopy(next, key, 128)
                        if subtract {
                            // -(x, y) = (x, p - y); y is 16 zero bytes then 48 bytes: words hi, lo.
                            let yHi := mload(add(next, 64))
                            let yLo := mload(add(next, 96))
                            let borrow := gt(yLo, P_LO)
                            mstore(add(next, 96), sub(P_LO, yLo))
                            mstore(add(next, 64), sub(sub(P_HI, yHi), borrow))
                        }
                        ok := staticcall(G1ADD_GAS, 0x0b, buffer, 256, buffer, 128)
                        ok := and(ok, eq(returndatasize(), 128))
                    }
                }
            }
            mcopy(add(aggregate, 0x20), buffer, 128)
        }
    }

    /// The data contract's code after its leading STOP byte.
    function _readData(address data) private view returns (bytes memory blob) {
        uint256 size = data.code.length - 1;
        blob = new bytes(size);
        assembly ("memory-safe") {
            extcodecopy(data, add(blob, 0x20), 1, size)
        }
    }
}
