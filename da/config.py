"""Configuration of the DA layer: one frozen dataclass whose `validate()` names the bad field."""

from __future__ import annotations

from dataclasses import dataclass

from da.constants import DEFAULT_MAX_BLOB_BYTES, MAX_SUPPORTED_BLOB_BYTES
from da.errors import InvalidConfig


@dataclass(frozen=True, slots=True)
class DAConfig:
    """Limits for encoding. `max_blob_bytes` may be lowered or raised up to what the header can bind."""

    max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES

    def validate(self) -> DAConfig:
        """Return self if every field is in range, else raise `InvalidConfig` naming the field."""
        if not 1 <= self.max_blob_bytes <= MAX_SUPPORTED_BLOB_BYTES:
            raise InvalidConfig(
                "max_blob_bytes",
                self.max_blob_bytes,
                f"must be between 1 and {MAX_SUPPORTED_BLOB_BYTES}",
            )
        return self
