"""Publish pacing arithmetic (pure): a token bucket that says how long to wait before the next publish."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    """At most `rate` events per second on average, `burst` at once; the caller supplies the time."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated_at: float | None = None

    def __post_init__(self) -> None:
        if not self.rate > 0 or not self.burst >= 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={self.rate}, burst={self.burst}")
        if self.tokens < 0:
            self.tokens = self.burst

    def reserve(self, now: float) -> float:
        """Take one token; returns how many seconds to wait before acting on it (0 if none)."""
        if self.updated_at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated_at) * self.rate)
        self.updated_at = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate
