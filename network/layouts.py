"""The SSZ layouts of the request messages as remerkleable containers (the normative forms; see
specs/p2p-interface.md). The hand-written codecs of `network.messages` are checked against them byte for
byte in the tests; production code never builds these (remerkleable needs ~0.5 ms per sample).

(No `from __future__ import annotations` here: remerkleable reads the container annotations at class
creation.) remerkleable ships no type information (`ignore_missing_imports` in pyproject.toml), so
`Container` is `Any` to mypy and strict mode's `disallow_subclassing_any` flags every subclass: hence
the `# type: ignore[misc]` on each class below.
"""

from remerkleable.basic import uint64
from remerkleable.bitfields import Bitlist
from remerkleable.byte_arrays import Bytes32 as SSZBytes32
from remerkleable.byte_arrays import Bytes48, ByteVector
from remerkleable.complex import Container, List

from da.constants import BYTES_PER_CELL
from da.header import BlobHeaderSSZ
from da.samples import SampleSSZ
from network.constants import MAX_CUSTODY_SAMPLES_PER_PUSH, MAX_SAMPLES_PER_REQUEST


class CellCoordinateSSZ(Container):  # type: ignore[misc]  # remerkleable is untyped (see above)
    """SSZ form of `CellCoordinate`."""

    row: uint64
    column: uint64


class SamplesRequestSSZ(Container):  # type: ignore[misc]  # remerkleable is untyped (see above)
    """`/tessera/samples/3` request: the cells wanted from one blob."""

    data_root: SSZBytes32
    coordinates: List[CellCoordinateSSZ, MAX_SAMPLES_PER_REQUEST]


class SamplesResponseSSZ(Container):  # type: ignore[misc]  # remerkleable is untyped (see above)
    """`/tessera/samples/3` answer: bit i says whether coordinate i is held; held samples follow in order."""

    held: Bitlist[MAX_SAMPLES_PER_REQUEST]
    samples: List[SampleSSZ, MAX_SAMPLES_PER_REQUEST]


class GridSampleSSZ(Container):  # type: ignore[misc]  # remerkleable is untyped (see above)
    """SSZ form of `GridSample`: a cell of the 2D grid (row 0..2R-1) and its proof, no commitment."""

    row: uint64
    column: uint64
    cell: ByteVector[BYTES_PER_CELL]
    proof: Bytes48


class GridSamplesResponseSSZ(Container):  # type: ignore[misc]  # remerkleable is untyped (see above)
    """`/tessera/samples/2` answer (its request has the layout of `SamplesRequestSSZ`)."""

    held: Bitlist[MAX_SAMPLES_PER_REQUEST]
    samples: List[GridSampleSSZ, MAX_SAMPLES_PER_REQUEST]


class CustodyPushSSZ(Container):  # type: ignore[misc]  # remerkleable is untyped (see above)
    """`/tessera/custody/2` request: the blob's epoch and quorum, its header, some custody samples."""

    epoch: uint64
    quorum: uint64
    header: BlobHeaderSSZ
    samples: List[SampleSSZ, MAX_CUSTODY_SAMPLES_PER_PUSH]
