"""Where the chain tools are: the Solidity compiler (`solcjs`, solc as wasm) and the local chain
(`anvil`), both from npm packages pinned by `validator/contracts/package-lock.json` and installed by
`make chain-tools` (which `make test` and `make demo` run). Nothing is downloaded at run time.

`TESSERA_SOLCJS` and `TESSERA_ANVIL` name other binaries (an anvil from foundryup, say)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from validator.errors import RegistryError

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"
"""`validator/contracts`: the Solidity sources, the compiled artifact and the npm package list."""

NPM_BIN = CONTRACTS_DIR / "node_modules" / ".bin"


class ChainToolMissing(RegistryError):
    """A chain tool (anvil, solcjs) or Node.js, which runs them, is not installed."""


def _override(name: str) -> Path | None:
    value = os.environ.get(f"TESSERA_{name.upper()}")
    if not value:
        return None
    if not Path(value).is_file():
        raise ChainToolMissing(f"TESSERA_{name.upper()}={value} is not a file")
    return Path(value)


def _missing(name: str) -> ChainToolMissing:
    return ChainToolMissing(
        f"{name} is not installed: run `make chain-tools` (chain mode needs Node.js 20 or later and npm)"
    )


def find_anvil() -> Path:
    """The anvil binary: the native one the `@foundry-rs/anvil-<platform>` package ships (run
    directly, so signals reach it and no Node.js process sits in between)."""
    override = _override("anvil")
    if override is not None:
        return override
    found = sorted(CONTRACTS_DIR.glob("node_modules/@foundry-rs/anvil-*/bin/anvil"))
    if not found:
        raise _missing("anvil")
    return found[0]


def find_solcjs() -> list[str]:
    """The command that runs the pinned Solidity compiler (solc's wasm build, on Node.js)."""
    override = _override("solcjs")
    if override is not None:
        return [str(override)]
    path = NPM_BIN / "solcjs"
    if not path.exists():
        raise _missing("solcjs")
    node = shutil.which("node")
    if node is None:
        raise ChainToolMissing("solcjs runs on Node.js, which is not on PATH (chain mode needs Node.js 20+)")
    return [node, str(path.resolve())]
