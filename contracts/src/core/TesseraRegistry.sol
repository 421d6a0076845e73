// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import "../libraries/BLS12381.sol";
import "./TesseraSigning.sol";

/// @title Tessera's registry: validators' BLS keys, stake, endpoints, verified VRF ballots and the
/// seeds they give (specs/validator.md, "The chain registry").
/// @notice The chain is the clock: epoch = (block.timestamp - genesisTime) / epochSeconds (0 until
/// genesisTime), computed here; no caller passes an epoch except the one a ballot is for, which must be
/// the one open now. Every change emits an event, so readers sync by logs; storage keeps what this
/// contract and the certificate verifier check later: accounts, balances and their history by epoch,
/// key uniqueness, the keys in the form the EIP-2537 precompiles take, each epoch's VRF outputs and
/// their XOR, and the seeds derived from them.
/// @dev One validator per account: deposit, withdraw, updateEndpoint, castBallot and claim act on
/// msg.sender's own validator, so nobody can move or redirect another validator's stake or endpoint.
contract TesseraRegistry {
    /// Returned by `protocol()`: readers refuse an address that does not answer this.
    string public constant PROTOCOL = "tessera-registry/2";
    /// A change made during epoch c takes effect at c + 3 (specs/validator.md, Epoch rules).
    uint64 public constant STAKE_ACTIVATION_DELAY_EPOCHS = 3;
    /// Stake is counted in gwei, as the presets' STAKE_PER_SLOT (32 ETH = 32e9 gwei).
    uint256 public constant WEI_PER_STAKE_UNIT = 1 gwei;
    /// First 4 bytes of the registration message (specs/validator.md, Domains).
    bytes4 public constant DOMAIN_REGISTRATION = 0x06000000;
    uint256 public constant MAX_PEER_ID_BYTES = 128;
    uint256 public constant MAX_MULTIADDRS = 8;
    uint256 public constant MAX_MULTIADDR_BYTES = 256;
    uint256 private constant PUBKEY_BYTES = 48;
    uint256 private constant SIGNATURE_BYTES = 96;
    uint256 private constant PUBKEY_POINT_BYTES = 128;

    uint256 public immutable genesisTime;
    uint256 public immutable epochSeconds;
    bytes32 public immutable genesisSeed;
    uint256 public immutable deployBlock;
    string public preset;

    struct Validator {
        address account;
        uint64 balance; // stake units, every recorded change included (pending ones too)
    }

    /// The stake a validator holds from `epoch` on (until a later checkpoint).
    struct StakeCheckpoint {
        uint64 epoch;
        uint64 stake;
    }

    struct PendingWithdrawal {
        uint64 amount;
        uint64 unlockEpoch;
    }

    Validator[] private _validators;
    /// The EIP-2537 encoding (128 bytes) of each validator's key, by index.
    bytes[] public pubkeyPoints;
    mapping(address => uint32) private _indexPlusOne;
    mapping(bytes32 => bool) public pubkeyRegistered;
    mapping(uint32 => PendingWithdrawal[]) private _withdrawals;
    /// Cumulative stake by effective epoch (effective epochs never decrease, so this stays sorted).
    mapping(uint32 => StakeCheckpoint[]) private _stakeHistory;
    /// The VRF output (sha256 of the signature) of each verified ballot; zero where none was cast.
    mapping(uint64 => mapping(uint32 => bytes32)) public ballotOutput;
    /// The validators that cast a ballot for an epoch, in the order they cast it.
    mapping(uint64 => uint32[]) private _voters;
    /// XOR of the VRF outputs of an epoch's ballots: what seed(epoch + 1) mixes (compute_ballot_mix).
    mapping(uint64 => bytes32) public ballotMix;
    /// Seeds derived so far (seed(0) is genesisSeed); the latest is the one ballots are checked against.
    mapping(uint64 => bytes32) private _seeds;
    uint64 private _latestSeedEpoch;

    event ValidatorRegistered(
        uint32 indexed validator, address indexed account, bytes pubkey, bytes proofOfPossession
    );
    event StakeChanged(uint32 indexed validator, int128 amount, uint64 effectiveEpoch);
    event EndpointUpdated(uint32 indexed validator, string peerId, string[] multiaddrs);
    event BallotCast(uint64 indexed epoch, uint32 indexed validator, bytes signature);
    event WithdrawalClaimed(uint32 indexed validator, address indexed to, uint256 amountWei);

    error AccountAlreadyRegistered(address account);
    error PubkeyAlreadyRegistered();
    error InvalidStake(uint256 amountWei);
    error KeyEncodingMismatch();
    error InvalidProofOfPossession();
    error NotAValidator(address account);
    error WithdrawalExceedsStake(uint64 balance, uint64 requested);
    error BallotNotOpen(uint64 epoch, uint64 open);
    error BallotAlreadyCast(uint64 epoch, uint32 validator);
    error InvalidSignatureLength(uint256 length);
    error InvalidBallot(uint64 epoch, uint32 validator);
    error SeedNotFixed(uint64 epoch, uint64 latestFixed);
    error EndpointTooLarge();
    error NothingToClaim();
    error TransferFailed();
    error InvalidGenesis();

    constructor(uint256 genesisTime_, uint256 epochSeconds_, bytes32 genesisSeed_, string memory preset_) {
        if (epochSeconds_ == 0 || bytes(preset_).length == 0) revert InvalidGenesis();
        genesisTime = genesisTime_;
        epochSeconds = epochSeconds_;
        genesisSeed = genesisSeed_;
        preset = preset_;
        deployBlock = block.number;
        _seeds[0] = genesisSeed_;
    }

    // --- the clock -----------------------------------------------------------------------------

    /// The epoch now, by this block's timestamp (compute_epoch of specs/validator.md).
    function currentEpoch() public view returns (uint64) {
        if (block.timestamp <= genesisTime) return 0;
        return uint64((block.timestamp - genesisTime) / epochSeconds);
    }

    /// True until genesisTime: registrations and deposits count from epoch 0, ballots are for epoch 0.
    function beforeGenesis() public view returns (bool) {
        return block.timestamp < genesisTime;
    }

    /// The epoch a registration or stake change made now takes effect.
    function effectiveEpochNow() public view returns (uint64) {
        return beforeGenesis() ? 0 : currentEpoch() + STAKE_ACTIVATION_DELAY_EPOCHS;
    }

    /// The one epoch whose ballots are accepted now: 0 before genesis, else the next epoch.
    function openBallotEpoch() public view returns (uint64) {
        return beforeGenesis() ? 0 : currentEpoch() + 1;
    }

    // --- registration and stake ------------------------------------------------------------------

    /// What a registrant's proof of possession signs: sha256(DOMAIN_REGISTRATION || uint64_le(chainid)
    /// || this registry || account || pubkey). It binds the key to one account on one registry of one
    /// chain, so a proof seen in the mempool or on another chain cannot register the key for anyone else.
    function registrationMessage(address account, bytes calldata pubkey) public view returns (bytes32) {
        return sha256(abi.encodePacked(DOMAIN_REGISTRATION, TesseraSigning.uint64le(uint64(block.chainid)), address(this), account, pubkey));
    }

    /// Register msg.sender as a validator with the stake sent (a positive multiple of 1 gwei).
    /// `pubkey` (48 bytes) and `proof` (96 bytes) are blspy's compressed encodings; `pubkeyPoint` and
    /// `proofPoint` the same points as EIP-2537 takes them, checked equal to the compressed ones. The
    /// pairing check of the proof also checks that the key is on the curve and in the G1 subgroup.
    function register(
        bytes calldata pubkey,
        bytes calldata pubkeyPoint,
        bytes calldata proof,
        bytes calldata proofPoint,
        string calldata peerId,
        string[] calldata multiaddrs
    ) external payable returns (uint32 index) {
        if (_indexPlusOne[msg.sender] != 0) revert AccountAlreadyRegistered(msg.sender);
        bytes32 keyHash = keccak256(pubkey);
        if (pubkeyRegistered[keyHash]) revert PubkeyAlreadyRegistered();
        uint64 stake = _stakeOf(msg.value);
        if (pubkey.length != PUBKEY_BYTES || proof.length != SIGNATURE_BYTES) revert KeyEncodingMismatch();
        if (!BLS12381.g1MatchesCompressed(pubkey, pubkeyPoint)) revert KeyEncodingMismatch();
        if (!BLS12381.g2MatchesCompressed(proof, proofPoint)) revert KeyEncodingMismatch();
        bytes memory message = abi.encodePacked(registrationMessage(msg.sender, pubkey));
        if (!BLS12381.verify(pubkeyPoint, message, proofPoint)) revert InvalidProofOfPossession();
        _checkEndpoint(peerId, multiaddrs);

        index = uint32(_validators.length);
        _validators.push(Validator({account: msg.sender, balance: stake}));
        _recordStake(index, stake);
        pubkeyPoints.push(pubkeyPoint);
        _indexPlusOne[msg.sender] = index + 1;
        pubkeyRegistered[keyHash] = true;
        emit ValidatorRegistered(index, msg.sender, pubkey, proof);
        emit StakeChanged(index, int128(uint128(stake)), effectiveEpochNow());
        emit EndpointUpdated(index, peerId, multiaddrs);
    }

    /// Add the stake sent to msg.sender's validator, from effectiveEpochNow().
    function deposit() external payable {
        uint32 index = _own();
        uint64 stake = _stakeOf(msg.value);
        _validators[index].balance += stake;
        _recordStake(index, _validators[index].balance);
        emit StakeChanged(index, int128(uint128(stake)), effectiveEpochNow());
    }

    /// Withdraw `amount` stake units from msg.sender's validator: they stop counting at
    /// effectiveEpochNow() and can be claimed once that epoch has started.
    function withdraw(uint64 amount) external {
        uint32 index = _own();
        uint64 balance = _validators[index].balance;
        if (amount == 0 || amount > balance) revert WithdrawalExceedsStake(balance, amount);
        _validators[index].balance = balance - amount;
        _recordStake(index, balance - amount);
        uint64 effective = effectiveEpochNow();
        _withdrawals[index].push(PendingWithdrawal({amount: amount, unlockEpoch: effective}));
        emit StakeChanged(index, -int128(uint128(amount)), effective);
    }

    /// Pay msg.sender every withdrawal of its validator whose epoch has started.
    function claim() external {
        uint32 index = _own();
        PendingWithdrawal[] storage pending = _withdrawals[index];
        uint64 now_ = currentEpoch();
        uint256 total;
        uint256 kept;
        for (uint256 i = 0; i < pending.length; i++) {
            if (pending[i].unlockEpoch <= now_ && !beforeGenesis()) {
                total += pending[i].amount;
            } else {
                pending[kept++] = pending[i];
            }
        }
        while (pending.length > kept) pending.pop();
        if (total == 0) revert NothingToClaim();
        uint256 amountWei = total * WEI_PER_STAKE_UNIT;
        emit WithdrawalClaimed(index, msg.sender, amountWei);
        (bool sent,) = msg.sender.call{value: amountWei}("");
        if (!sent) revert TransferFailed();
    }

    /// Replace where msg.sender's validator's libp2p host can be reached.
    function updateEndpoint(string calldata peerId, string[] calldata multiaddrs) external {
        uint32 index = _own();
        _checkEndpoint(peerId, multiaddrs);
        emit EndpointUpdated(index, peerId, multiaddrs);
    }

    // --- ballots -------------------------------------------------------------------------------

    /// Cast msg.sender's validator's VRF ballot for `epoch`, which must be openBallotEpoch(): ballots
    /// of a running or past epoch are frozen. One per validator and epoch. `signature` (96 bytes) is
    /// the compressed BLS signature of compute_ballot_signing_root(chainid, epoch, seedOf(epoch)) and
    /// `signaturePoint` (256 bytes) the same point as EIP-2537 takes it; the ballot is verified here
    /// (InvalidBallot), so every ballot on chain counts and the verifier can draw quorums from it.
    function castBallot(uint64 epoch, bytes calldata signature, bytes calldata signaturePoint) external {
        uint32 index = _own();
        uint64 open = openBallotEpoch();
        if (epoch != open) revert BallotNotOpen(epoch, open);
        if (signature.length != SIGNATURE_BYTES) revert InvalidSignatureLength(signature.length);
        if (ballotOutput[epoch][index] != bytes32(0)) revert BallotAlreadyCast(epoch, index);
        if (!BLS12381.g2MatchesCompressed(signature, signaturePoint)) revert KeyEncodingMismatch();
        bytes32 message = TesseraSigning.ballotRoot(uint64(block.chainid), epoch, _deriveSeed(epoch));
        if (!BLS12381.verify(pubkeyPoints[index], abi.encodePacked(message), signaturePoint)) {
            revert InvalidBallot(epoch, index);
        }
        bytes32 output = sha256(signature);
        ballotOutput[epoch][index] = output;
        _voters[epoch].push(index);
        ballotMix[epoch] ^= output;
        emit BallotCast(epoch, index, signature);
    }

    /// Whether `validator` cast a ballot for `epoch`.
    function ballotCast(uint64 epoch, uint32 validator) external view returns (bool) {
        return ballotOutput[epoch][validator] != bytes32(0);
    }

    // --- seeds and stake by epoch -------------------------------------------------------------

    /// The latest epoch whose seed is fixed: the open ballot epoch (its seed mixes ballots of the
    /// epoch before, no longer accepted), 0 before genesis (compute_latest_fixed_epoch).
    function latestFixedEpoch() public view returns (uint64) {
        return openBallotEpoch();
    }

    /// seed(epoch) by the rule of specs/validator.md (compute_next_seed over ballotMix), for any epoch
    /// up to latestFixedEpoch() (SeedNotFixed beyond it).
    function seedOf(uint64 epoch) public view returns (bytes32 seed) {
        uint64 latest = latestFixedEpoch();
        if (epoch > latest) revert SeedNotFixed(epoch, latest);
        uint64 known = epoch >= _latestSeedEpoch ? _latestSeedEpoch : epoch;
        while (known > 0 && _seeds[known] == bytes32(0)) known--;
        seed = _seeds[known];
        for (uint64 e = known; e < epoch; e++) seed = TesseraSigning.nextSeed(seed, e, ballotMix[e]);
    }

    /// The stake `validator` holds in `epoch`: its changes effective at or before it (stake_at).
    function stakeAt(uint32 validator, uint64 epoch) public view returns (uint64) {
        StakeCheckpoint[] storage history = _stakeHistory[validator];
        for (uint256 i = history.length; i > 0; i--) {
            if (history[i - 1].epoch <= epoch) return history[i - 1].stake;
        }
        return 0;
    }

    /// Everything a quorum draw of `epoch` needs, in one call: the validators that voted (in the order
    /// they voted), their VRF outputs and their stake in `epoch`.
    function ballotDraw(uint64 epoch)
        external
        view
        returns (uint32[] memory validators, bytes32[] memory outputs, uint64[] memory stakes)
    {
        validators = _voters[epoch];
        outputs = new bytes32[](validators.length);
        stakes = new uint64[](validators.length);
        for (uint256 i = 0; i < validators.length; i++) {
            outputs[i] = ballotOutput[epoch][validators[i]];
            stakes[i] = stakeAt(validators[i], epoch);
        }
    }

    /// The EIP-2537 keys of `validators`, concatenated (128 bytes each), for publishing a quorum.
    function pubkeyPointsOf(uint32[] calldata validators) external view returns (bytes memory points) {
        points = new bytes(validators.length * PUBKEY_POINT_BYTES);
        for (uint256 i = 0; i < validators.length; i++) {
            bytes memory point = pubkeyPoints[validators[i]];
            assembly ("memory-safe") {
                mcopy(add(add(points, 0x20), mul(i, 128)), add(point, 0x20), 128)
            }
        }
    }

    // --- reads ---------------------------------------------------------------------------------

    function protocol() external pure returns (string memory) {
        return PROTOCOL;
    }

    function validatorCount() external view returns (uint32) {
        return uint32(_validators.length);
    }

    /// The validator index of `account`; reverts NotAValidator for an unregistered account.
    function validatorOf(address account) public view returns (uint32) {
        uint32 plusOne = _indexPlusOne[account];
        if (plusOne == 0) revert NotAValidator(account);
        return plusOne - 1;
    }

    function validator(uint32 index) external view returns (address account, uint64 balance) {
        Validator storage record = _validators[index];
        return (record.account, record.balance);
    }

    // --- internals -----------------------------------------------------------------------------

    /// seed(epoch) for the open ballot epoch, stored for the next caller. The open epoch never
    /// decreases, so the walk starts at the latest stored seed.
    function _deriveSeed(uint64 epoch) private returns (bytes32 seed) {
        uint64 known = _latestSeedEpoch;
        seed = _seeds[known];
        if (epoch == known) return seed;
        for (uint64 e = known; e < epoch; e++) seed = TesseraSigning.nextSeed(seed, e, ballotMix[e]);
        _seeds[epoch] = seed;
        _latestSeedEpoch = epoch;
    }

    /// Record that `validator` holds `stake` from effectiveEpochNow() on.
    function _recordStake(uint32 validator, uint64 stake) private {
        StakeCheckpoint[] storage history = _stakeHistory[validator];
        uint64 effective = effectiveEpochNow();
        uint256 n = history.length;
        if (n > 0 && history[n - 1].epoch == effective) history[n - 1].stake = stake;
        else history.push(StakeCheckpoint({epoch: effective, stake: stake}));
    }

    function _own() private view returns (uint32) {
        return validatorOf(msg.sender);
    }

    function _stakeOf(uint256 amountWei) private pure returns (uint64) {
        if (amountWei == 0 || amountWei % WEI_PER_STAKE_UNIT != 0 || amountWei / WEI_PER_STAKE_UNIT > type(uint64).max) {
            revert InvalidStake(amountWei);
        }
        return uint64(amountWei / WEI_PER_STAKE_UNIT);
    }

    function _checkEndpoint(string calldata peerId, string[] calldata multiaddrs) private pure {
        if (bytes(peerId).length > MAX_PEER_ID_BYTES || multiaddrs.length > MAX_MULTIADDRS) revert EndpointTooLarge();
        for (uint256 i = 0; i < multiaddrs.length; i++) {
            if (bytes(multiaddrs[i]).length > MAX_MULTIADDR_BYTES) revert EndpointTooLarge();
        }
    }
}
