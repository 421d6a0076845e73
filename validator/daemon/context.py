"""What every part of one validator daemon shares, built once at start: who it is, where its state
lives, and the heavy contexts (KZG setup, encoder pool). Parts take this instead of a bundle of
arguments, and nothing in it is replaced while the node runs."""

from __future__ import annotations

from dataclasses import dataclass

from da import DAConfig
from da.kzg import CkzgBackend
from da.pool import EncoderPool
from validator.daemon.metrics import NodeMetrics
from validator.daemon.registry_watch import RegistryHealth
from validator.daemon.retention import DiskGuard
from validator.daemon.store import NodeStore
from validator.presets import Preset
from validator.registry import ValidatorRegistry
from validator.types import ValidatorIndex


@dataclass(frozen=True, slots=True)
class NodeContext:
    """One validator's shared, read-only wiring (the objects it names own their own locking)."""

    me: ValidatorIndex
    registry: ValidatorRegistry
    store: NodeStore
    metrics: NodeMetrics
    preset: Preset
    chain_id: int
    kzg: CkzgBackend
    da_config: DAConfig
    pool: EncoderPool | None = None
    """Encoder worker processes (None: encode and recover in a worker thread of this process)."""
    registry_health: RegistryHealth | None = None
    """Whether `registry` answers (`main` wraps it in a `WatchedRegistry` reporting here); None when
    nothing watches it."""
    disk: DiskGuard | None = None
    """The free-disk threshold new data must clear (None: no threshold; failed writes still count)."""
