"""A freshly deployed registry on the session's anvil with funded operator accounts, and the
helpers the chain tests share (the clock, registration, keys)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from validator.keys import SecretKey
from validator.presets import DEVNET
from validator.registry.chain.anvil import Anvil
from validator.registry.chain.backend import ChainRegistry, deploy_registry
from validator.types import Epoch, Seed, ValidatorIndex
from validator.vrf import compute_ballot

EPOCH_SECONDS = 100
STAKE = DEVNET.STAKE_PER_SLOT
OPERATOR_FUNDS_WEI = 1_000 * 10**18
GENESIS_SEED = Seed(hashlib.sha256(b"chain test genesis").digest())


def chain_time(web3: Web3) -> int:
    return int(web3.eth.get_block("latest")["timestamp"])


def advance(web3: Web3, seconds: int) -> None:
    """Move the chain's clock forward and mine a block at the new time."""
    web3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    web3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


@dataclass
class Network:
    """One freshly deployed registry and a reader/writer per operator account."""

    web3: Web3
    address: str
    accounts: list[LocalAccount]
    rpc_url: str
    deployer: LocalAccount

    def registry(self, number: int | None = None) -> ChainRegistry:
        account = None if number is None else self.accounts[number]
        return ChainRegistry(self.rpc_url, self.address, account=account, sync_interval=0)

    def to_epoch(self, epoch: int) -> None:
        """Advance the chain into `epoch` (a little past its start)."""
        reader = self.registry()
        start = int(reader.get_info().genesis_time) + epoch * EPOCH_SECONDS
        now = chain_time(self.web3)
        if now < start + 1:
            advance(self.web3, start + 1 - now)


def register(registry: ChainRegistry, key: SecretKey, slots: int = 1, peer: str = "") -> ValidatorIndex:
    return registry.register_validator(
        key.pubkey,
        registry.sign_registration(key),
        slots * STAKE,
        peer,
        (f"/ip4/10.0.0.1/tcp/1/p2p/{peer}",),
    )


KEYS = [SecretKey.from_seed(hashlib.sha256(b"chain key" + bytes([i])).digest()) for i in range(8)]


def cast_ballots(net: Network, keys: dict[int, SecretKey], epoch: Epoch) -> None:
    """Cast account i's ballot for `epoch` with keys[i] (validator i), over the seed the chain fixed."""
    seed = net.registry().get_epoch_context(epoch).seed
    chain_id = net.web3.eth.chain_id
    for i, key in keys.items():
        net.registry(i).put_ballot(compute_ballot(key, ValidatorIndex(i), chain_id, epoch, seed))


def deployer(anvil: Anvil, web3: Web3) -> Callable[..., Network]:
    """A function that deploys a registry of `preset` whose genesis is `genesis_in` seconds after the
    chain's time, with `accounts` fresh funded operator accounts (one validator per account)."""

    def deploy(genesis_in: int = 60, accounts: int = 6, preset: str = "devnet") -> Network:
        funder = web3.eth.accounts[1]
        fresh = [Account.create(secrets.token_hex(16)) for _ in range(accounts)]
        for operator in fresh:
            tx = {"from": funder, "to": operator.address, "value": OPERATOR_FUNDS_WEI}
            web3.eth.wait_for_transaction_receipt(web3.eth.send_transaction(tx))  # type: ignore[arg-type]
        owner = Account.from_key(anvil.private_keys[0])
        address = deploy_registry(
            anvil.rpc_url,
            owner,
            genesis_time=chain_time(web3) + genesis_in,
            epoch_seconds=EPOCH_SECONDS,
            genesis_seed=GENESIS_SEED,
            preset=preset,
        )
        return Network(web3, address, fresh, anvil.rpc_url, owner)

    return deploy
