"""A Tessera peer in its own process, for the two-process tests: `python -m tests.network.peer_process`.

Modes: `serve CUSTODY_FILE` answers `/tessera/samples/3` from the samples in a file holding one encoded
`CustodyPush` (so this process needs no trusted setup); `stall` reads sample requests and never
answers. It prints one JSON line `{"peer": ..., "addr": ...}` once it listens, then runs until SIGTERM
(clean shutdown) or SIGKILL.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog
import trio
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol

from da.header import compute_data_root
from da.types import CellCoordinate, DataRoot, Sample
from network.constants import PROTOCOL_SAMPLES
from network.messages import bytes_to_custody_push
from network.server import ServerPorts
from network.service import open_service
from network.streams import FrameReader


class FileSampleStore:
    """`SampleStore` over the samples of one blob read from a file."""

    def __init__(self, path: Path) -> None:
        push = bytes_to_custody_push(path.read_bytes())
        self.data_root = compute_data_root(push.header)
        self.samples = {sample.coordinate: sample for sample in push.samples}

    def get_samples(self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
        if data_root != self.data_root:
            return [None] * len(coordinates)
        return [self.samples.get(coordinate) for coordinate in coordinates]


async def _stall(stream: INetStream) -> None:
    await FrameReader(stream, "client").read_frame(1 << 20, "request")
    await trio.sleep_forever()


async def main(argv: list[str]) -> None:
    mode = argv[0]
    ports = ServerPorts(samples=FileSampleStore(Path(argv[1]))) if mode == "serve" else ServerPorts()
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        async with open_service(ports=ports) as service:
            if mode == "stall":
                service.host.set_stream_handler(TProtocol(PROTOCOL_SAMPLES), _stall)
            sys.stdout.write(json.dumps({"peer": service.peer_id, "addr": service.listen_addrs[0]}) + "\n")
            sys.stdout.flush()
            async for _ in signals:
                return


if __name__ == "__main__":
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is for the address
    trio.run(main, sys.argv[1:])
