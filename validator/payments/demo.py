"""A devnet's demo sequencer: an Ethereum account with an escrow, made when the devnet is created, so
`make demo` and `das blob post` on that devnet pay for dispersal with no flags.

On the SQLite devnet the account is a fresh key and its escrow a row of the registry file's escrow
tables; on the anvil devnet it is anvil's well-known development account 1 (published with anvil,
never to hold real value), funded with ether by the chain's funder and deposited into the payments
contract. Its keystore is encrypted with the devnet's password.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from eth_account import Account

from validator.payments.port import EscrowBalance
from validator.registry.chain.accounts import create_account_keystore

ANVIL_DEV_ACCOUNT_1_KEY: Final = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
"""Anvil's (and Hardhat's) second development key, from the public test mnemonic: the anvil devnet's
demo sequencer, so its address is the same on every devnet (0x70997970C51812dc3A010C7d01b50e0d17dc79C8)."""
DEMO_DEPOSIT_WEI: Final = 10**18
"""The demo escrow: 1 ether, about a thousand 1 MiB blobs at the anvil devnet's price, and far more
at the SQLite devnet's."""
DEMO_GAS_WEI: Final = 10 * 10**18
"""Ether the anvil devnet's demo account keeps besides its deposit: gas, and more deposits."""


def create_demo_keystore(keystore: Path, password: str, *, deterministic: bool) -> str:
    """Write the demo sequencer's keystore (light KDF: a throwaway devnet key); its address.
    `deterministic`: anvil's development account 1, else a fresh key."""
    key = ANVIL_DEV_ACCOUNT_1_KEY if deterministic else None
    return str(create_account_keystore(keystore, password, private_key=key, light_kdf=True).address)


def fund_on_sqlite(registry: Path, account: str, amount: int = DEMO_DEPOSIT_WEI) -> EscrowBalance:
    """Deposit `amount` for `account` into the escrow tables of the registry file."""
    from validator.payments.sqlite_escrow import SqliteEscrow  # noqa: PLC0415 - the SQLite devnet only

    with SqliteEscrow(registry) as escrow:
        return escrow.account(account).deposit(amount)


def fund_on_chain(
    rpc_url: str,
    payments_address: str,
    registry_address: str,
    funder_key: str,
    amount: int = DEMO_DEPOSIT_WEI,
) -> EscrowBalance:
    """Send the demo account `amount` plus gas money from `funder_key`'s account, then deposit
    `amount` into the payments contract from it."""
    from web3 import Web3  # noqa: PLC0415 - the anvil devnet only
    from web3.types import TxParams, Wei  # noqa: PLC0415

    from validator.errors import RegistryError  # noqa: PLC0415
    from validator.registry.chain.payments import ChainPayments  # noqa: PLC0415
    from validator.registry.chain.rpc import connect, sign_and_send  # noqa: PLC0415

    sequencer = Account.from_key(ANVIL_DEV_ACCOUNT_1_KEY)
    funder = Account.from_key(funder_key)
    web3 = connect(rpc_url)
    transfer: TxParams = {
        "from": funder.address,
        "to": Web3.to_checksum_address(sequencer.address),
        "value": Wei(amount + DEMO_GAS_WEI),
        "gas": 21_000,
        "maxFeePerGas": Wei(web3.eth.gas_price * 2),
        "maxPriorityFeePerGas": Wei(0),
    }
    _, receipt = sign_and_send(web3, rpc_url, funder, f"fund {sequencer.address}", transfer)
    if receipt["status"] != 1:
        raise RegistryError(f"funding the demo sequencer {sequencer.address} failed")
    payments = ChainPayments(
        rpc_url, payments_address, account=sequencer, registry_address=registry_address, confirmations=0
    )
    return payments.deposit(amount)
