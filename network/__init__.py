"""Tessera's libp2p library, used by the validator daemon and the light client alike.

Pure modules (no I/O, testable without sockets): `constants`, `messages` (with `ssz`, its building
blocks, and `layouts`, the remerkleable forms tests check it against), `framing`, `gossip_rules`,
`scoring`, `pacing`, `types`, `ports`, `config`. I/O modules: `service` (the host, with `host`, its
plumbing), `server` and `client` (request/response), `sample_fetch` (samples fetched and verified),
`gossip`, `streams`, `bridge` (trio thread for asyncio callers), `logs`.
Import the I/O pieces from their modules; this package exports the pure, typed surface.
"""

from network.config import NetworkConfig
from network.constants import ResultCode
from network.errors import (
    InvalidNetworkConfig,
    InvalidResponse,
    MalformedMessage,
    MessageTooLarge,
    NetworkError,
    PeerBanned,
    PeerDisconnected,
    PeerTimeout,
    PeerUnreachable,
    PublishFailed,
    RemoteError,
    ServiceNotRunning,
)
from network.messages import CustodyPush, SamplesRequest, SamplesResponse
from network.ports import AttestationSink, CertificateValidator, CustodySink, HeaderStore, SampleStore
from network.scoring import Offence, ScoreParams
from network.types import GossipMessage, Judgement, MessageId, PeerName, Verdict, VerifiedSamples

__all__ = [
    "AttestationSink",
    "CertificateValidator",
    "CustodyPush",
    "CustodySink",
    "GossipMessage",
    "HeaderStore",
    "InvalidNetworkConfig",
    "InvalidResponse",
    "Judgement",
    "MalformedMessage",
    "MessageId",
    "MessageTooLarge",
    "NetworkConfig",
    "NetworkError",
    "Offence",
    "PeerBanned",
    "PeerDisconnected",
    "PeerName",
    "PeerTimeout",
    "PeerUnreachable",
    "PublishFailed",
    "RemoteError",
    "ResultCode",
    "SampleStore",
    "SamplesRequest",
    "SamplesResponse",
    "ScoreParams",
    "ServiceNotRunning",
    "Verdict",
    "VerifiedSamples",
]
