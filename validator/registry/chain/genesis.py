"""A genesis on a chain: BLS keys and Ethereum accounts in encrypted keystores, the registry contract
deployed (with its certificate verifier and its payments contract, at the devnet's price and
withdrawal delay, governed by the deploying account), every validator funded, registered through the
contract (its proof of possession checked on-chain) and its epoch-0 ballot cast, all before the
contract's `genesisTime`.

`das devnet up --chain anvil` builds its network with it; the result (`ChainGenesis`) is what the
validators' configs and `das devnet status` need.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxParams, Wei

from validator.errors import RegistryError
from validator.payments.promise import PriceTerms
from validator.presets import get_preset
from validator.registry.chain.accounts import create_account_keystore
from validator.registry.chain.backend import WEI_PER_STAKE_UNIT, ChainRegistry, deploy_registry
from validator.registry.chain.payments import (
    DEVNET_MIN_BILLED_BYTES,
    DEVNET_PRICE_PER_BYTE_WEI,
    DEVNET_WITHDRAWAL_DELAY_SECONDS,
    deploy_payments,
)
from validator.registry.chain.rpc import connect, sign_and_send
from validator.registry.chain.verifier import deploy_verifier
from validator.registry.genesis import KEYS_DIR, GenesisProgress, GenesisSpec, create_validator_key
from validator.types import Epoch
from validator.vrf import compute_ballot, compute_genesis_seed

GAS_FUNDS_WEI: Final = 10 * 10**18
"""What each validator account gets beyond its stake, for its ballots and endpoint updates."""


@dataclass(frozen=True, slots=True)
class ChainGenesis:
    """A registry contract with its genesis validators registered."""

    rpc_url: str
    registry_address: str
    verifier_address: str
    chain_id: int
    genesis_time: int
    accounts: tuple[str, ...]
    """Each validator's Ethereum address, by validator number."""
    payments_address: str = ""
    """The `TesseraPayments` escrow of this network (its `registry()` is `registry_address`)."""


def get_account_keystore_path(directory: Path, number: int) -> Path:
    """Where a chain genesis writes validator `number`'s Ethereum account keystore."""
    return directory / KEYS_DIR / f"eth-{number}.json"


def create_chain_genesis(
    directory: Path,
    spec: GenesisSpec,
    rpc_url: str,
    funder: LocalAccount,
    *,
    genesis_delay: float,
    progress: GenesisProgress | None = None,
) -> ChainGenesis:
    """Keys, accounts, deployment and genesis registrations; `genesis_time` is the chain's time at
    deployment plus `genesis_delay` seconds, which must leave room for every registration and ballot
    (each is a transaction; a registration that lands after genesis would count only from epoch 3)."""
    spec.validate()
    preset = get_preset(spec.preset)
    web3 = connect(rpc_url)
    chain_id = int(web3.eth.chain_id)
    if chain_id != spec.chain_id:
        raise RegistryError(
            f"the chain at {rpc_url} has chain id {chain_id}, the genesis wants {spec.chain_id}"
        )
    (directory / KEYS_DIR).mkdir(parents=True, exist_ok=True)
    now = int(web3.eth.get_block("latest")["timestamp"])
    genesis_time = now + max(1, round(genesis_delay))
    genesis_seed = compute_genesis_seed(chain_id, secrets.token_bytes(32))
    address = deploy_registry(
        rpc_url,
        funder,
        genesis_time=genesis_time,
        epoch_seconds=max(1, round(spec.epoch_seconds)),
        genesis_seed=genesis_seed,
        preset=preset.name,
    )
    verifier = deploy_verifier(rpc_url, funder, address)
    stake = spec.slots * preset.STAKE_PER_SLOT
    accounts: list[str] = []
    for number in range(spec.validators):
        secret_key = create_validator_key(directory, spec, number)
        account = create_account_keystore(
            get_account_keystore_path(directory, number), spec.password, light_kdf=spec.kdf_params is not None
        )
        _fund(web3, rpc_url, funder, account.address, stake * WEI_PER_STAKE_UNIT + GAS_FUNDS_WEI)
        registry = ChainRegistry(rpc_url, address, account=account, sync_interval=0)
        index = registry.register_validator(secret_key.pubkey, registry.sign_registration(secret_key), stake)
        registry.put_ballot(compute_ballot(secret_key, index, chain_id, Epoch(0), genesis_seed))
        accounts.append(account.address)
        if progress is not None:
            progress(number + 1, spec.validators)
    if int(web3.eth.get_block("latest")["timestamp"]) >= genesis_time:
        raise RegistryError(
            f"the genesis transactions took past genesisTime ({genesis_delay:g} s after deployment): "
            "give a longer genesis delay"
        )
    # after the registrations: genesisTime leaves room for them, not for this
    payments = deploy_payments(
        rpc_url,
        funder,
        registry_address=address,
        terms=PriceTerms(DEVNET_PRICE_PER_BYTE_WEI, DEVNET_MIN_BILLED_BYTES),
        withdrawal_delay=DEVNET_WITHDRAWAL_DELAY_SECONDS,
    )
    return ChainGenesis(rpc_url, address, verifier, chain_id, genesis_time, tuple(accounts), payments)


def wait_for_genesis(rpc_url: str, genesis_time: int, *, timeout: float) -> None:
    """Block until the chain's latest block is at or past `genesis_time` (bounded by `timeout`)."""
    web3 = connect(rpc_url)
    deadline = time.monotonic() + timeout
    while int(web3.eth.get_block("latest")["timestamp"]) < genesis_time:
        if time.monotonic() > deadline:
            raise RegistryError(f"the chain at {rpc_url} did not reach genesis within {timeout:g} s")
        time.sleep(0.2)


def _fund(web3: Web3, rpc_url: str, funder: LocalAccount, to: str, amount_wei: int) -> None:
    transaction: TxParams = {
        "from": funder.address,
        "to": Web3.to_checksum_address(to),
        "value": Wei(amount_wei),
        "gas": 21_000,
        "maxFeePerGas": Wei(web3.eth.gas_price * 2),
        "maxPriorityFeePerGas": Wei(0),
    }
    _, receipt = sign_and_send(web3, rpc_url, funder, f"fund {to}", transaction)
    if receipt["status"] != 1:
        raise RegistryError(f"funding {to} failed")
