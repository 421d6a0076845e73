"""Opening a registry by where it is, so no caller names a backend class.

Today a location is a file path: the embedded SQLite registry that one devnet's processes share.
The chain backend (an EVM contract over JSON-RPC) will be chosen here by its RPC URL and address.
"""

from __future__ import annotations

import os
from pathlib import Path

from validator.registry.port import Registry
from validator.registry.sqlite import SqliteRegistry


def open_registry(location: str | os.PathLike[str]) -> Registry:
    """The registry at `location`; raises `RegistryError` when there is none or it is not ours."""
    return SqliteRegistry(Path(location))
