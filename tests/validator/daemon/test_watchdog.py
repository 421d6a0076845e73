"""The daemon's watchdog over real concurrent futures (a worker thread stands for the trio side): a
stop request ends serving cleanly; a part that ends on its own, crashed or not, ends it with that part
named, so the daemon exits 1 instead of taking blobs it cannot disperse."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from validator.daemon.watchdog import EndedPart, serve_until_stopped


def _forever(release: threading.Event) -> None:
    release.wait(timeout=30)


def _crash() -> None:
    raise RuntimeError("network service crashed")


def test_a_stop_request_ends_serving_with_nothing_ended() -> None:
    release = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        node: Future[None] = pool.submit(_forever, release)

        async def serve() -> list[EndedPart]:
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(0.05, stop.set)
            return await serve_until_stopped(stop, {"node": node})

        try:
            assert asyncio.run(serve()) == []
        finally:
            release.set()


def test_a_part_that_crashes_ends_serving_and_is_named_with_its_error() -> None:
    release = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        node: Future[None] = pool.submit(_forever, release)
        service: Future[None] = pool.submit(_crash)
        try:
            ended = asyncio.run(
                serve_until_stopped(asyncio.Event(), {"node": node, "network service": service})
            )
        finally:
            release.set()
    assert [part.name for part in ended] == ["network service"]
    assert isinstance(ended[0].error, RuntimeError) and "crashed" in str(ended[0].error)


def test_a_part_that_returns_on_its_own_also_ends_serving() -> None:
    with ThreadPoolExecutor(1) as pool:
        node: Future[None] = pool.submit(lambda: None)
        ended = asyncio.run(serve_until_stopped(asyncio.Event(), {"node": node}))
    assert ended == [EndedPart("node", None)]
