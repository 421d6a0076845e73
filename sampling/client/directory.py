"""Who holds which column of a blob, and where to reach them.

Custody is public (`validator.custody`): from the blob's quorum and data root the client knows every
member's columns. Each column's custodians are put in a random order once per blob (the caller's
`chooser`, `secrets.SystemRandom` in production), which spreads requests over the members and keeps
a slow first holder from costing every client a timeout. The other members are the column's
fallbacks: any of them may hold its cells without custody (the aggregator keeps the whole blob), and
every sample is verified against the data root, so asking them is safe.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

import multiaddr
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr

from da.constants import CELLS_PER_ROW
from da.types import ColumnIndex
from network.types import PeerName
from sampling.client.assignment import Assignment
from validator.custody import compute_member_custody
from validator.presets import Preset
from validator.types import ValidatorIndex


def split_multiaddr(address: str, peer: PeerName | None = None) -> tuple[PeerName, multiaddr.Multiaddr]:
    """(peer id, dialable address) of `address`; one without /p2p/ needs `peer`. Raises `ValueError`."""
    try:
        parsed = multiaddr.Multiaddr(address)
    except Exception as error:
        raise ValueError(f"{address!r} is not a multiaddr: {error}") from error
    named: set[str] = set()
    while "p2p" in [protocol.name for protocol in parsed.protocols()]:  # /p2p/ID, even repeated
        info = info_from_p2p_addr(parsed)
        named.add(str(info.peer_id))
        parsed = info.addrs[0] if info.addrs else multiaddr.Multiaddr("")
    if not str(parsed):
        raise ValueError(f"{address} has no transport address")
    if len(named) > 1 or (peer is not None and named and named != {peer}):
        raise ValueError(f"{address} names peer(s) {sorted(named)}, expected {peer}")
    if not named and peer is None:
        raise ValueError(f"{address} does not end with /p2p/<peer id>")
    return PeerName(peer if peer is not None else named.pop()), parsed


def is_peer_id(text: str) -> bool:
    """True when `text` is a base58 libp2p peer id."""
    try:
        ID.from_base58(text)
    except Exception:  # noqa: BLE001 - py-libp2p raises several types for bad text
        return False
    return bool(text)


class CustodyDirectory:
    """The custodians of one blob by column, their peer ids and addresses."""

    def __init__(self, assignment: Assignment, preset: Preset, chooser: random.Random) -> None:
        self.assignment = assignment
        custody = compute_member_custody(assignment.quorum, assignment.data_root, preset)
        self.served_columns: frozenset[ColumnIndex] = frozenset().union(*custody.values())
        """Columns some member holds: the columns worth sampling (see `sampling.confidence`)."""
        self.validator_of: dict[PeerName, ValidatorIndex] = {}
        self.addresses: dict[PeerName, list[multiaddr.Multiaddr]] = {}
        self.unreachable: list[ValidatorIndex] = []
        """Members with no usable peer id in the registry (their columns count as withheld)."""
        for member in assignment.quorum.members:
            record = assignment.context.get_validator(member)
            if record is None or not is_peer_id(record.peer_id):
                self.unreachable.append(member)
                continue
            peer = PeerName(record.peer_id)
            self.validator_of[peer] = member
            dialable: list[multiaddr.Multiaddr] = []
            for address in record.multiaddrs:
                try:
                    dialable.append(split_multiaddr(address, peer)[1])
                except ValueError:
                    continue
            self.addresses[peer] = dialable
        peer_of = {member: peer for peer, member in self.validator_of.items()}
        self._by_column: dict[ColumnIndex, list[PeerName]] = {}
        self._fallbacks: dict[ColumnIndex, list[PeerName]] = {}
        for column in range(CELLS_PER_ROW):
            holders: list[PeerName] = []
            others: list[PeerName] = []
            for member in assignment.quorum.members:
                if member in peer_of:
                    (holders if column in custody[member] else others).append(peer_of[member])
            chooser.shuffle(holders)
            chooser.shuffle(others)
            self._by_column[ColumnIndex(column)] = holders
            self._fallbacks[ColumnIndex(column)] = others

    @property
    def peers(self) -> list[PeerName]:
        """Every reachable member, in quorum order."""
        return list(self.validator_of)

    def custodians_of(self, column: ColumnIndex) -> list[PeerName]:
        """The reachable members holding `column`, in this blob's random order."""
        return list(self._by_column.get(column, ()))

    def fallbacks_of(self, column: ColumnIndex) -> list[PeerName]:
        """The reachable members without custody of `column`, in a random order: asked for its cells
        once its custodians failed (the member that encoded the blob holds every cell)."""
        return list(self._fallbacks.get(column, ()))

    def install(self, host: IHost, extra: Mapping[PeerName, Iterable[multiaddr.Multiaddr]] = {}) -> None:
        """Tell the host's peerstore where every member (and `extra` peers) listens, so requests dial."""
        store = host.get_peerstore()
        for peer, addresses in [*self.addresses.items(), *extra.items()]:
            listed = list(addresses)
            if listed:
                store.add_addrs(ID.from_base58(peer), listed, 0)
