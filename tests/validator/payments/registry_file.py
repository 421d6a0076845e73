"""A registry file with its escrow installed (real SQLite), for payment tests."""

from __future__ import annotations

import time
from pathlib import Path

from validator.payments.promise import PriceTerms
from validator.payments.sqlite_escrow import install_escrow
from validator.presets import get_preset
from validator.registry.port import RegistryInfo
from validator.registry.sqlite import SqliteRegistry
from validator.vrf import compute_genesis_seed

CHAIN_ID = 31337
TERMS = PriceTerms(price_per_byte=2, min_billed_bytes=4096)


def make_registry(path: Path, terms: PriceTerms | None = TERMS, delay: int = 100) -> Path:
    """An empty registry at `path`, with the escrow installed at `terms` (None: without one)."""
    info = RegistryInfo(CHAIN_ID, get_preset("devnet").name, time.time(), 3600.0)
    SqliteRegistry.create(
        path, info, compute_genesis_seed(CHAIN_ID, path.name.encode().ljust(32, b"\0"))
    ).close()
    if terms is not None:
        install_escrow(path, terms, delay)
    return path
