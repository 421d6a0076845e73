"""The DA server's read cache: payloads already checked, by commitment, bounded in bytes (LRU). Its
owner is the server's request handlers (one asyncio thread); `put` evicts the least recently read
until the bound holds, so a payload larger than the bound is not kept."""

from __future__ import annotations

from collections import OrderedDict


class PayloadCache:
    """An LRU map commitment -> payload holding at most `max_bytes` of payloads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: bytes) -> bytes | None:
        """The payload of `key`, now the most recently used; None if not held."""
        payload = self._entries.get(key)
        if payload is not None:
            self._entries.move_to_end(key)
        return payload

    def put(self, key: bytes, payload: bytes) -> None:
        """Hold `payload` under `key`, evicting the least recently used past the bound."""
        if len(payload) > self.max_bytes:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._bytes -= len(previous)
        self._entries[key] = payload
        self._bytes += len(payload)
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted)

    @property
    def size_bytes(self) -> int:
        """Bytes of payload held."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
