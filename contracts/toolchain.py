"""The contracts' toolchain: where the sources, the compiled artifact and the chain tools are, and
compiling the sources with the pinned solc (`solcjs --standard-json`).

The chain tools are the Solidity compiler (`solcjs`, solc as wasm) and the local chain (`anvil`),
both from npm packages pinned by `contracts/package-lock.json` and installed into
`contracts/node_modules` by `make chain-tools` (which `make test` and `make demo` run). Nothing is
downloaded at run time. `TESSERA_SOLCJS` and `TESSERA_ANVIL` name other binaries (an anvil from
foundryup, say).

The artifact (`contracts/artifacts/contracts.json`) is committed so that running a chain registry
needs no compiler; a test compiles the sources again and checks the artifact equals the result
(`check_artifact`), so it cannot drift from the source. `python -m contracts.toolchain` rewrites it
after a source change.

This is the only module of `contracts` the other packages import (an import-linter contract holds
it); it imports none of them, so its errors have their own root, `ToolchainError`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

CONTRACTS_ROOT: Final = Path(__file__).resolve().parent
"""`contracts/`: the Solidity sources, the compiled artifact and the npm package list."""

SOURCES_DIR: Final = CONTRACTS_ROOT / "src"
"""`contracts/src`: `core/` (the registry, the certificate verifier and the protocol's formats),
`integrations/` (contracts of rollups that use Tessera), `libraries/` (BLS12-381)."""

ARTIFACT_PATH: Final = CONTRACTS_ROOT / "artifacts" / "contracts.json"
NODE_MODULES: Final = CONTRACTS_ROOT / "node_modules"
NPM_BIN: Final = NODE_MODULES / ".bin"
COMPILE_TIMEOUT_SECONDS: Final = 120
SETTINGS: Final[dict[str, Any]] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "prague",  # EIP-2537's BLS12-381 precompiles are live from Prague (Pectra)
    "viaIR": True,
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


class ToolchainError(Exception):
    """Raised when the contracts' toolchain fails: the root of this package's errors."""


class ChainToolMissing(ToolchainError):
    """Raised when a chain tool (anvil, solcjs) or Node.js, which runs them, is not installed."""


class CompileFailed(ToolchainError):
    """Raised when solc reported errors, or could not be run."""


class ArtifactMissing(ToolchainError):
    """Raised when the committed artifact cannot be read or holds no contract of the name asked for."""


@dataclass(frozen=True, slots=True)
class CompiledContract:
    """One contract's ABI and creation bytecode (hex without 0x)."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    source: str = ""
    """The source unit it was compiled from, its path under `contracts/src` ("" for one loaded from
    the artifact)."""


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
    found = sorted(NODE_MODULES.glob("@foundry-rs/anvil-*/bin/anvil"))
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


def read_sources() -> dict[str, str]:
    """Every `.sol` file under `contracts/src`, by its path there (`core/TesseraRegistry.sol`): the
    source unit names the sources' relative imports resolve against."""
    return {
        path.relative_to(SOURCES_DIR).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(SOURCES_DIR.rglob("*.sol"))
    }


def compile_sources(sources: dict[str, str]) -> dict[str, CompiledContract]:
    """Compile `sources` (source unit name -> text) with the pinned solc; every contract by name."""
    request = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": SETTINGS,
    }
    # Both ends are files, not pipes: solcjs exits with process.exit(), which cuts a pipe's output at
    # 64 KiB, and reads stdin with readFileSync, which fails with EAGAIN on a pipe not yet filled.
    with (
        tempfile.TemporaryFile(mode="w+", encoding="utf-8") as stdin,
        tempfile.TemporaryFile(mode="w+", encoding="utf-8") as stdout,
    ):
        json.dump(request, stdin)
        stdin.seek(0)
        try:
            result = subprocess.run(  # noqa: S603 - the pinned solcjs, our own arguments
                [*find_solcjs(), "--standard-json"],
                stdin=stdin,
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
                timeout=COMPILE_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise CompileFailed(f"solcjs could not run: {error}") from error
        stdout.seek(0)
        text = stdout.read()
    start = text.find("{")
    if result.returncode != 0 or start < 0:
        raise CompileFailed(f"solcjs failed ({result.returncode}): {result.stderr.strip()[:2000]}")
    output = json.loads(text[start:])
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileFailed("; ".join(e.get("formattedMessage", e.get("message", "")) for e in errors)[:4000])
    contracts: dict[str, CompiledContract] = {}
    for source, unit in output.get("contracts", {}).items():
        for name, body in unit.items():
            contracts[name] = CompiledContract(
                name=name,
                abi=body["abi"],
                bytecode=body["evm"]["bytecode"]["object"],
                deployed_bytecode=body["evm"]["deployedBytecode"]["object"],
                source=source,
            )
    return contracts


def _to_json(contracts: dict[str, CompiledContract]) -> dict[str, Any]:
    return {
        name: {"abi": c.abi, "bytecode": c.bytecode, "deployed_bytecode": c.deployed_bytecode}
        for name, c in sorted(contracts.items())
        if c.abi and c.bytecode  # libraries of internal functions (inlined), interfaces: nothing to deploy
    }


def write_artifact() -> Path:
    """Compile the sources and write the artifact; returns its path."""
    contracts = compile_sources(read_sources())
    ARTIFACT_PATH.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT_PATH.write_text(
        json.dumps(_to_json(contracts), indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return ARTIFACT_PATH


def check_artifact(compiled: dict[str, CompiledContract] | None = None) -> list[str]:
    """Names of the contracts whose committed artifact differs from a fresh compile of the sources
    (empty: in sync). `compiled` may be a compile of the sources with other files beside them (test
    harnesses); only the contracts of the sources' own files count."""
    contracts = compile_sources(read_sources()) if compiled is None else compiled
    shipped = {name: c for name, c in contracts.items() if c.source in read_sources()}
    fresh = _to_json(shipped)
    committed = json.loads(ARTIFACT_PATH.read_text(encoding="utf-8"))
    return sorted(name for name in set(fresh) | set(committed) if fresh.get(name) != committed.get(name))


@cache
def load_contract(name: str) -> CompiledContract:
    """Contract `name` from the committed artifact (no compiler needed)."""
    try:
        body = json.loads(ARTIFACT_PATH.read_text(encoding="utf-8"))[name]
    except (OSError, ValueError, KeyError) as error:
        raise ArtifactMissing(f"no compiled contract {name!r} in {ARTIFACT_PATH}: {error}") from error
    return CompiledContract(name, body["abi"], body["bytecode"], body["deployed_bytecode"])


if __name__ == "__main__":
    sys.stdout.write(f"wrote {write_artifact()}\n")
