// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Tessera's payments: per-account escrows that back signed payment promises, the price of
/// dispersal, and settlement of promises to the nodes they are owed to (specs/validator.md,
/// "Payments contract").
/// @notice A sequencer account deposits; for each blob it signs an EIP-712 `Promise` whose
/// `cumulative` is everything it has ever promised that node. Anyone may `settle` promises: each
/// pays its node `cumulative - paid[account][node]`, capped at the account's balance, so a node only
/// needs the highest promise it holds, a replayed or stale promise pays nothing, and no promise is
/// paid twice. A withdrawal is requested first and leaves after `withdrawalDelay` seconds; until then
/// the funds stay in the balance that settlements draw from, so a node that settles within the delay
/// is paid for every promise it accepted before the request.
/// @dev The price (`pricePerByte`, `minBilledBytes`) is set by `governor`, fixed at deployment, and
/// takes effect from the block that changes it; settlement never reads it (the node checked it when
/// it accepted the promise). The governor can change nothing else: no escrow, no payment, no delay.
contract TesseraPayments {
    /// Returned by `protocol()`: readers refuse an address that does not answer this.
    string public constant PROTOCOL = "tessera-payments/1";
    /// The EIP-712 domain's name and version; chainId and verifyingContract are this chain and this
    /// contract (validator/payments/promise.py signs under the same domain).
    string public constant DOMAIN_NAME = "Tessera Payments";
    string public constant DOMAIN_VERSION = "1";
    bytes32 public constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 public constant PROMISE_TYPEHASH = keccak256(
        "Promise(address account,address node,bytes32 dataRoot,uint64 billedBytes,uint256 cumulative,uint64 expiry)"
    );
    /// Signatures are r || s || v (65 bytes) with v in {27, 28} and s in the lower half of the curve
    /// order (EIP-2), so each promise has exactly one valid signature.
    uint256 private constant SIGNATURE_BYTES = 65;
    uint256 private constant HALF_CURVE_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// Why `settle` skipped a promise (event `PromiseRefused`).
    enum Refusal {
        None,
        MalformedSignature, // v not 27 or 28, s in the upper half, or no key recovers
        NotSignedByAccount // the signature recovers another address (another key, chain or contract)
    }

    /// What a sequencer signs for one blob (the EIP-712 primary type).
    struct Promise {
        address account;
        address node;
        bytes32 dataRoot;
        uint64 billedBytes;
        uint256 cumulative;
        uint64 expiry;
    }

    /// One account's escrow. `pending <= balance` always: a settlement that takes the balance below
    /// the pending withdrawal lowers the pending withdrawal with it.
    struct Escrow {
        uint128 balance;
        uint128 pending;
        uint64 withdrawableAt; // 0 when nothing is pending
    }

    /// The registry of the network this escrow pays for (readers check it is theirs).
    address public immutable registry;
    /// The only address that may change the price.
    address public immutable governor;
    /// Seconds between requestWithdrawal and withdraw; nodes settle well within it.
    uint64 public immutable withdrawalDelay;
    uint256 public immutable deployBlock;
    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    /// Wei per billed byte.
    uint256 public pricePerByte;
    /// The least size a blob is billed for, in bytes.
    uint64 public minBilledBytes;

    mapping(address => Escrow) private _escrows;
    /// What `account` has paid `node` in all: the cumulative amount settled so far.
    mapping(address account => mapping(address node => uint256)) public paid;

    event Deposited(address indexed account, uint256 amount, uint256 balance);
    event WithdrawalRequested(address indexed account, uint256 amount, uint64 withdrawableAt);
    event Withdrawn(address indexed account, uint256 amount, uint256 balance);
    event Settled(address indexed account, address indexed node, uint256 cumulative, uint256 amount);
    event PromiseRefused(uint256 index, address indexed account, address indexed node, Refusal reason);
    event PriceChanged(uint256 pricePerByte, uint64 minBilledBytes);

    error NotGovernor(address caller);
    error ZeroAmount();
    error DepositTooLarge(uint256 balance, uint256 amount);
    error WithdrawalExceedsBalance(uint256 balance, uint256 requested);
    error NothingPending();
    error WithdrawalNotReady(uint64 withdrawableAt, uint256 now_);
    error LengthMismatch(uint256 promises, uint256 signatures);
    error InvalidSignatureLength(uint256 index, uint256 length);
    error TransferFailed(address to, uint256 amount);
    error InvalidDeployment();

    constructor(
        address registry_,
        address governor_,
        uint256 pricePerByte_,
        uint64 minBilledBytes_,
        uint64 withdrawalDelay_
    ) {
        if (governor_ == address(0) || withdrawalDelay_ == 0) revert InvalidDeployment();
        registry = registry_;
        governor = governor_;
        withdrawalDelay = withdrawalDelay_;
        deployBlock = block.number;
        pricePerByte = pricePerByte_;
        minBilledBytes = minBilledBytes_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _domainSeparator();
        emit PriceChanged(pricePerByte_, minBilledBytes_);
    }

    // --- the price ----------------------------------------------------------------------------

    /// Set the price; it holds from this block on. Only the governor.
    function setPrice(uint256 pricePerByte_, uint64 minBilledBytes_) external {
        if (msg.sender != governor) revert NotGovernor(msg.sender);
        pricePerByte = pricePerByte_;
        minBilledBytes = minBilledBytes_;
        emit PriceChanged(pricePerByte_, minBilledBytes_);
    }

    /// The price and the minimum billed size, in one call.
    function priceTerms() external view returns (uint256, uint64) {
        return (pricePerByte, minBilledBytes);
    }

    // --- the escrow ---------------------------------------------------------------------------

    /// Add the value sent to msg.sender's escrow.
    function deposit() external payable {
        if (msg.value == 0) revert ZeroAmount();
        Escrow storage escrow = _escrows[msg.sender];
        uint256 balance = uint256(escrow.balance) + msg.value;
        if (balance > type(uint128).max) revert DepositTooLarge(escrow.balance, msg.value);
        escrow.balance = uint128(balance);
        emit Deposited(msg.sender, msg.value, balance);
    }

    /// Ask to withdraw `amount` (at most the balance): it stops backing new promises now and may be
    /// withdrawn `withdrawalDelay` seconds from now. A new request replaces the pending one and
    /// restarts its delay.
    function requestWithdrawal(uint256 amount) external {
        Escrow storage escrow = _escrows[msg.sender];
        if (amount == 0) revert ZeroAmount();
        if (amount > escrow.balance) revert WithdrawalExceedsBalance(escrow.balance, amount);
        uint64 at = uint64(block.timestamp) + withdrawalDelay;
        escrow.pending = uint128(amount);
        escrow.withdrawableAt = at;
        emit WithdrawalRequested(msg.sender, amount, at);
    }

    /// Pay msg.sender its pending withdrawal once the delay has passed (what settlements left of it).
    function withdraw() external {
        Escrow storage escrow = _escrows[msg.sender];
        uint256 amount = escrow.pending;
        uint64 at = escrow.withdrawableAt;
        if (at == 0) revert NothingPending();
        if (block.timestamp < at) revert WithdrawalNotReady(at, block.timestamp);
        uint128 balance = escrow.balance - uint128(amount);
        escrow.balance = balance;
        escrow.pending = 0;
        escrow.withdrawableAt = 0;
        emit Withdrawn(msg.sender, amount, balance);
        _send(msg.sender, amount);
    }

    /// `account`'s balance, its pending withdrawal (part of the balance) and when that may leave
    /// (0 when none is pending). New promises are backed by balance - pending only.
    function escrowOf(address account)
        external
        view
        returns (uint256 balance, uint256 pending, uint64 withdrawableAt)
    {
        Escrow storage escrow = _escrows[account];
        return (escrow.balance, escrow.pending, escrow.withdrawableAt);
    }

    // --- settlement ---------------------------------------------------------------------------

    /// Pay each promise's node what its cumulative adds to what the account already paid it, capped
    /// at the account's balance. A promise at or below what was paid pays nothing; a promise whose
    /// signature does not recover its account is skipped with `PromiseRefused`; neither reverts, so
    /// the rest of a batch still settles. Payments to the same node in consecutive promises are sent
    /// as one transfer. Anyone may call this: the money only ever goes to the promise's node.
    function settle(Promise[] calldata promises, bytes[] calldata signatures) external returns (uint256 total) {
        if (promises.length != signatures.length) revert LengthMismatch(promises.length, signatures.length);
        bytes32 separator = domainSeparator();
        address payee;
        uint256 owedToPayee;
        for (uint256 i = 0; i < promises.length; i++) {
            Promise calldata promise_ = promises[i];
            Refusal refusal = _checkSignature(i, separator, promise_, signatures[i]);
            if (refusal != Refusal.None) {
                emit PromiseRefused(i, promise_.account, promise_.node, refusal);
                continue;
            }
            uint256 amount = _pay(promise_);
            if (amount == 0) continue;
            if (promise_.node != payee) {
                if (owedToPayee != 0) _send(payee, owedToPayee);
                payee = promise_.node;
                owedToPayee = 0;
            }
            owedToPayee += amount;
            total += amount;
        }
        if (owedToPayee != 0) _send(payee, owedToPayee);
    }

    /// The EIP-712 digest of `promise_` under this contract's domain (what its account signs).
    function promiseDigest(Promise calldata promise_) public view returns (bytes32) {
        return _digest(domainSeparator(), promise_);
    }

    /// The EIP-712 domain separator: name, version, this chain and this contract.
    function domainSeparator() public view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _domainSeparator();
    }

    function protocol() external pure returns (string memory) {
        return PROTOCOL;
    }

    // --- internals ----------------------------------------------------------------------------

    /// Effects of one promise: what it pays (0 for a stale promise or an empty escrow).
    function _pay(Promise calldata promise_) private returns (uint256 amount) {
        uint256 already = paid[promise_.account][promise_.node];
        if (promise_.cumulative <= already) return 0;
        Escrow storage escrow = _escrows[promise_.account];
        uint128 balance = escrow.balance;
        amount = promise_.cumulative - already;
        if (amount > balance) amount = balance;
        if (amount == 0) return 0;
        balance -= uint128(amount);
        escrow.balance = balance;
        if (escrow.pending > balance) escrow.pending = balance;
        paid[promise_.account][promise_.node] = already + amount;
        emit Settled(promise_.account, promise_.node, promise_.cumulative, amount);
    }

    function _checkSignature(uint256 index, bytes32 separator, Promise calldata promise_, bytes calldata signature)
        private
        pure
        returns (Refusal)
    {
        if (signature.length != SIGNATURE_BYTES) revert InvalidSignatureLength(index, signature.length);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if ((v != 27 && v != 28) || uint256(s) > HALF_CURVE_ORDER) return Refusal.MalformedSignature;
        address signer = ecrecover(_digest(separator, promise_), v, r, s);
        if (signer == address(0)) return Refusal.MalformedSignature;
        return signer == promise_.account ? Refusal.None : Refusal.NotSignedByAccount;
    }

    function _digest(bytes32 separator, Promise calldata promise_) private pure returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                PROMISE_TYPEHASH,
                promise_.account,
                promise_.node,
                promise_.dataRoot,
                promise_.billedBytes,
                promise_.cumulative,
                promise_.expiry
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", separator, structHash));
    }

    function _domainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256(bytes(DOMAIN_NAME)),
                keccak256(bytes(DOMAIN_VERSION)),
                block.chainid,
                address(this)
            )
        );
    }

    function _send(address to, uint256 amount) private {
        (bool sent,) = to.call{value: amount}("");
        if (!sent) revert TransferFailed(to, amount);
    }
}
