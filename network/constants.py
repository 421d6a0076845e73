"""Protocol constants of the p2p layer; `specs/p2p-interface.md` is their normative home (a test checks)."""

from __future__ import annotations

from enum import IntEnum
from typing import Final

from da import constants as da_constants
from da import header as da_header
from da import samples as da_samples

# --- Protocol ids -------------------------------------------------------------------------------
PROTOCOL_SAMPLES: Final = "/tessera/samples/3"
PROTOCOL_GRID_SAMPLES: Final = "/tessera/samples/2"
"""Samples of the 2D grid (rows 0..2R-1) as `GridSample`s, checked against the blob's header."""
PROTOCOL_CUSTODY: Final = "/tessera/custody/2"
PROTOCOL_ATTEST: Final = "/tessera/attest/1"
PROTOCOL_HEADER: Final = "/tessera/header/2"
REQUEST_PROTOCOLS: Final = (
    PROTOCOL_SAMPLES,
    PROTOCOL_GRID_SAMPLES,
    PROTOCOL_CUSTODY,
    PROTOCOL_ATTEST,
    PROTOCOL_HEADER,
)

# --- Gossip topics (formatted with the network name) ------------------------------------------------
TOPIC_CERTIFICATE_TEMPLATE: Final = "/tessera/{network}/certificate/1/ssz"
NETWORK_NAME_TEMPLATE: Final = "tessera-{chain_id}"


def compute_network_name(chain_id: int) -> str:
    """The network name of a chain (`tessera-{chain id}`): validators and light clients derive it from
    the registry's chain id, so networks with different chain ids never share gossip topics."""
    return NETWORK_NAME_TEMPLATE.format(chain_id=chain_id)


# --- Framing ----------------------------------------------------------------------------------------
FRAME_PREFIX_BYTES: Final = 4
RESULT_CODE_BYTES: Final = 1
MAX_ERROR_MESSAGE_BYTES: Final = 256

# --- Message limits ---------------------------------------------------------------------------------
MAX_SAMPLES_PER_REQUEST: Final = 128
MAX_CUSTODY_SAMPLES_PER_PUSH: Final = 1024
MAX_ATTESTATION_BYTES: Final = 1024
MAX_CERTIFICATE_MESSAGE_BYTES: Final = 4096
"""Cap of a certificate gossip message (opaque here; `validator.certificate` bounds the SSZ form)."""
COORDINATE_BYTES: Final = 16
SSZ_OFFSET_BYTES: Final = 4
UINT64_BYTES: Final = 8
GRID_SAMPLE_BYTES: Final = 2 * UINT64_BYTES + da_constants.BYTES_PER_CELL + da_constants.BYTES_PER_PROOF
"""2,112: row, column, cell and proof of a `GridSample` on the wire (no commitment, no branch)."""

SAMPLES_REQUEST_MAX_BYTES: Final = (
    da_constants.BYTES_PER_ROOT + SSZ_OFFSET_BYTES + MAX_SAMPLES_PER_REQUEST * COORDINATE_BYTES
)
SAMPLES_RESPONSE_MAX_BYTES: Final = (
    2 * SSZ_OFFSET_BYTES
    + (MAX_SAMPLES_PER_REQUEST // 8 + 1)
    + MAX_SAMPLES_PER_REQUEST * da_samples.SAMPLE_BYTES
)
GRID_SAMPLES_REQUEST_MAX_BYTES: Final = SAMPLES_REQUEST_MAX_BYTES
GRID_SAMPLES_RESPONSE_MAX_BYTES: Final = (
    2 * SSZ_OFFSET_BYTES + (MAX_SAMPLES_PER_REQUEST // 8 + 1) + MAX_SAMPLES_PER_REQUEST * GRID_SAMPLE_BYTES
)
CUSTODY_PUSH_MAX_BYTES: Final = (
    8
    + 8
    + 2 * SSZ_OFFSET_BYTES  # epoch, quorum, offsets
    + da_header.MAX_HEADER_BYTES
    + MAX_CUSTODY_SAMPLES_PER_PUSH * da_samples.SAMPLE_BYTES
)
HEADER_REQUEST_BYTES: Final = da_constants.BYTES_PER_ROOT
HEADER_RESPONSE_MAX_BYTES: Final = da_header.MAX_HEADER_BYTES

# --- Timeouts and concurrency (defaults of `NetworkConfig`) --------------------------------------------
REQUEST_READ_TIMEOUT_SECONDS: Final = 5
RESPONSE_TIMEOUT_SECONDS: Final = 10
HANDLER_TIMEOUT_SECONDS: Final = 10
DIAL_TIMEOUT_SECONDS: Final = 5
MAX_CONCURRENT_REQUESTS_PER_PEER: Final = 4

# --- Gossip -----------------------------------------------------------------------------------------
GOSSIP_MESSAGE_ID_BYTES: Final = 20
GOSSIP_MAX_MESSAGES_PER_TOPIC_PER_SECOND: Final = 2000
GOSSIP_PUBLISH_QUEUE_HIGH_WATER: Final = 8
GOSSIP_SUBSCRIBER_BUFFER: Final = 1024

# --- Peer scoring -----------------------------------------------------------------------------------
SCORE_MALFORMED_MESSAGE: Final = -25
SCORE_OVERSIZE_MESSAGE: Final = -50
SCORE_INVALID_DATA: Final = -50
SCORE_GOSSIP_REJECT: Final = -20
SCORE_RATE_LIMITED: Final = -5
SCORE_GOOD_RESPONSE: Final = 1
SCORE_MAX: Final = 20
SCORE_BAN_THRESHOLD: Final = -45
SCORE_HALF_LIFE_SECONDS: Final = 300
BAN_SECONDS: Final = 600

SCORE_GOSSIP_FLOOD: Final = -5
SCORE_FORGET_BELOW: Final = 1
MAX_SCORED_PEERS: Final = 10000

# --- Connection manager and per-peer state ---------------------------------------------------------
MAX_UNPROTECTED_CONNECTIONS: Final = 128
MAX_UNPROTECTED_CONNECTIONS_PER_IP: Final = 16
MAX_SOCKETS: Final = 1024
IDLE_CONNECTION_SECONDS: Final = 30
MAINTENANCE_SECONDS: Final = 5

# --- Gossip validation budget ---------------------------------------------------------------------
GOSSIP_IGNORED_PER_PEER_PER_SECOND: Final = 10
GOSSIP_IGNORED_BURST: Final = 50
GOSSIP_VALIDATION_QUEUE: Final = 64
GOSSIP_VALIDATION_THREADS: Final = 2
GOSSIP_VALIDATION_TIMEOUT_SECONDS: Final = 10

# --- Slow peers (backoff, not a score) ----------------------------------------------------------------
BACKOFF_BASE_MILLISECONDS: Final = 500
BACKOFF_MAX_MILLISECONDS: Final = 8000


class ResultCode(IntEnum):
    """The first byte of every response: success, or why there is no answer."""

    SUCCESS = 0
    INVALID_REQUEST = 1
    SERVER_ERROR = 2
    RESOURCE_UNAVAILABLE = 3
    RATE_LIMITED = 4
    IGNORED = 5
