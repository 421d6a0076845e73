"""A real anvil chain per test session (per xdist worker), started from the pinned npm package."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
from web3 import Web3

from contracts.toolchain import ChainToolMissing, CompiledContract, compile_sources, read_sources
from tests.environment import require_or_skip
from validator.registry.chain.anvil import Anvil, start_anvil

from .registry_network import Network, deployer


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    """anvil on 127.0.0.1 (an OS-chosen port) with funded dev accounts; skipped, saying why (failed
    under TESSERA_REQUIRE_ALL), when the chain tools are not installed (`make chain-tools`)."""
    try:
        chain = start_anvil(Path(tmp_path_factory.mktemp("anvil")), accounts=20)
    except ChainToolMissing as missing:
        require_or_skip(str(missing))
    with chain:
        yield chain


@pytest.fixture(scope="session")
def web3(anvil: Anvil) -> Web3:
    """A web3.py client of the session's anvil."""
    return Web3(Web3.HTTPProvider(anvil.rpc_url, request_kwargs={"timeout": 30}))


@pytest.fixture
def network(anvil: Anvil, web3: Web3) -> Callable[..., Network]:
    """Deploys a fresh registry (see `registry_network.deployer`)."""
    return deployer(anvil, web3)


HARNESSES_DIR = Path(__file__).parent / "contracts"
"""Test harnesses, compiled beside the shipped sources with their file names as source unit names, so
they import the sources by their paths under `contracts/src` (`./libraries/BLS12381.sol`)."""


@cache
def _compile_with_harnesses() -> dict[str, CompiledContract]:
    harnesses = {path.name: path.read_text(encoding="utf-8") for path in sorted(HARNESSES_DIR.glob("*.sol"))}
    return compile_sources({**read_sources(), **harnesses})


@pytest.fixture(scope="session")
def compiled_contracts() -> dict[str, CompiledContract]:
    """The shipped sources and the test harnesses, compiled once per process (solc in wasm takes
    ~15 s a run; an xdist worker may tear session fixtures down between groups, the cache stays);
    the shipped contracts come out byte for byte as they do alone (a test compares the artifact)."""
    return _compile_with_harnesses()
