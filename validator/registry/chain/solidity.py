"""Compiling the Tessera contracts with the pinned solc (`solcjs --standard-json`), and the compiled
artifact the code loads (`validator/contracts/artifacts/contracts.json`).

The artifact is committed so that running a chain registry needs no compiler; a test compiles the
sources again and checks the artifact equals the result (`check_artifact`), so it cannot drift
from the source. `python -m validator.registry.chain.solidity` rewrites it after a source change.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from validator.errors import RegistryError
from validator.registry.chain.toolchain import CONTRACTS_DIR, find_solcjs

SOURCES_DIR: Final = CONTRACTS_DIR / "src"
ARTIFACT_PATH: Final = CONTRACTS_DIR / "artifacts" / "contracts.json"
COMPILE_TIMEOUT_SECONDS: Final = 120
SETTINGS: Final[dict[str, Any]] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "prague",  # EIP-2537's BLS12-381 precompiles are live from Prague (Pectra)
    "viaIR": True,
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


class CompileFailed(RegistryError):
    """solc reported errors, or could not be run."""


@dataclass(frozen=True, slots=True)
class CompiledContract:
    """One contract's ABI and creation bytecode (hex without 0x)."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    source: str = ""
    """The file it was compiled from ("" for one loaded from the artifact)."""


def read_sources() -> dict[str, str]:
    """Every `.sol` file under `validator/contracts/src`, by file name."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(SOURCES_DIR.glob("*.sol"))}


def compile_sources(sources: dict[str, str]) -> dict[str, CompiledContract]:
    """Compile `sources` (file name -> text) with the pinned solc; every contract by name."""
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
        raise RegistryError(f"no compiled contract {name!r} in {ARTIFACT_PATH}: {error}") from error
    return CompiledContract(name, body["abi"], body["bytecode"], body["deployed_bytecode"])


if __name__ == "__main__":
    sys.stdout.write(f"wrote {write_artifact()}\n")
