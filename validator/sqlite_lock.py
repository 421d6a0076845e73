"""One SQLite connection shared by a daemon's threads: methods of its owner run under the owner's lock."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def serialized(method: Callable[..., T]) -> Callable[..., T]:
    """Run `method` under `self._lock` (an RLock the owning object creates in `__init__`)."""

    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked
