"""The payments contract's gas, in one run on a real anvil chain (`TesseraPayments`, through
`ChainPayments`): deposit (an account's first and a later one), settling one promise (a pair's first
settlement and a later, higher promise of the same pair), settling a batch of 100 promises (the
highest promise of 100 accounts to one node, as a node settles; first and again), requestWithdrawal
and withdraw. Transaction gas: 21,000 and calldata included.

Gas is deterministic, so one run is the figure. Run with `make bench` (or
`python bench/bench_payments_gas.py [--json]`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import tempfile
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from network.logs import configure_logging
from validator.payments.promise import PaymentDomain, PaymentPromise, PriceTerms, SignedPromise, sign_promise
from validator.registry.chain.anvil import Anvil, start_anvil
from validator.registry.chain.payments import (
    DEVNET_MIN_BILLED_BYTES,
    DEVNET_PRICE_PER_BYTE_WEI,
    ChainPayments,
    deploy_payments,
)

BATCH = 100
DELAY_SECONDS = 3600
DEPOSIT_WEI = 10**16
BLOB_BYTES = 1 << 20


def _gas(handle: ChainPayments) -> int:
    if handle.last_transaction is None:
        raise SystemExit("setup error: no transaction was sent")
    return handle.last_transaction.gas_used


def _promise(domain: PaymentDomain, account: LocalAccount, node: str, cumulative: int) -> SignedPromise:
    unsigned = PaymentPromise(
        account=account.address,
        node=node,
        data_root=hashlib.sha256(b"bench blob %d" % cumulative).digest(),
        billed_bytes=BLOB_BYTES,
        cumulative=cumulative,
        expiry=2**40,
    )
    return sign_promise(domain, unsigned, bytes(account.key))


def _funded(web3: Web3, funder: str, count: int) -> list[LocalAccount]:
    accounts: list[LocalAccount] = [Account.create(secrets.token_hex(8)) for _ in range(count)]
    hashes = [
        web3.eth.send_transaction({"from": funder, "to": a.address, "value": 10**18})  # type: ignore[typeddict-item]
        for a in accounts
    ]
    for tx_hash in hashes:
        web3.eth.wait_for_transaction_receipt(tx_hash)
    return accounts


def measure(anvil: Anvil) -> dict[str, Any]:
    """Every figure, from one fresh deployment on `anvil`."""
    web3 = Web3(Web3.HTTPProvider(anvil.rpc_url, request_kwargs={"timeout": 60}))
    owner = Account.from_key(anvil.private_keys[0])
    terms = PriceTerms(DEVNET_PRICE_PER_BYTE_WEI, DEVNET_MIN_BILLED_BYTES)
    address = deploy_payments(
        anvil.rpc_url, owner, registry_address=owner.address, terms=terms, withdrawal_delay=DELAY_SECONDS
    )
    accounts = _funded(web3, web3.eth.accounts[1], BATCH)
    handles = [ChainPayments(anvil.rpc_url, address, account=a) for a in accounts]
    settler = ChainPayments(anvil.rpc_url, address, account=owner)
    domain = settler.payment_domain()
    node = Account.create().address
    cost = terms.cost(BLOB_BYTES)

    first = handles[0]
    first.deposit(DEPOSIT_WEI)
    deposit_first = _gas(first)
    first.deposit(DEPOSIT_WEI)
    deposit_later = _gas(first)
    for handle in handles[1:]:
        handle.deposit(DEPOSIT_WEI)

    settler.settle([_promise(domain, accounts[0], node, cost)])
    settle_one_first = _gas(settler)
    settler.settle([_promise(domain, accounts[0], node, 2 * cost)])
    settle_one_later = _gas(settler)

    batch = [_promise(domain, a, node, cost) for a in accounts[1:]] + [
        _promise(domain, accounts[0], node, 3 * cost)
    ]
    receipt = settler.settle(batch)
    if receipt.promises != BATCH:
        raise SystemExit(f"setup error: the batch settled {receipt.promises} promises, not {BATCH}")
    batch_first = _gas(settler)
    again = [_promise(domain, a, node, 2 * cost) for a in accounts[1:]] + [
        _promise(domain, accounts[0], node, 4 * cost)
    ]
    settler.settle(again)
    batch_later = _gas(settler)

    first.request_withdrawal(DEPOSIT_WEI)
    request = _gas(first)
    web3.provider.make_request("evm_increaseTime", [DELAY_SECONDS])  # type: ignore[arg-type]
    web3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    first.withdraw()
    withdraw = _gas(first)
    return {
        "deposit_gas": {"first": deposit_first, "later": deposit_later},
        "settle_one_gas": {"first for the pair": settle_one_first, "later": settle_one_later},
        f"settle_batch_of_{BATCH}_gas": {
            "first for each pair": batch_first,
            "later": batch_later,
            "per promise, first": batch_first // BATCH,
            "per promise, later": batch_later // BATCH,
        },
        "request_withdrawal_gas": request,
        "withdraw_gas": withdraw,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    configure_logging(verbose=False)  # the figures are the output
    with tempfile.TemporaryDirectory() as scratch, start_anvil(Path(scratch), accounts=2) as anvil:
        figures = measure(anvil)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for name, value in figures.items():
        print(f"{name}: {json.dumps(value)}")


if __name__ == "__main__":
    main()
