"""The connection upgrades a Tessera host negotiates: Noise for security, Yamux for multiplexing, and
nothing else (specs/p2p-interface.md, Transport).

py-libp2p's `new_host` offers Noise, TLS, secio and `/plaintext/2.0.0` when it is given no security
options, and Mplex beside Yamux. Plaintext proves nothing about the remote's key, so scores, bans and
custody answers keyed by peer id could be aimed at an impersonated peer; every protocol not listed
here is refused at multistream negotiation.
"""

from __future__ import annotations

from typing import Final

from libp2p.abc import ISecureTransport
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TMuxerOptions, TProtocol, TSecurityOptions
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux

SECURITY_PROTOCOLS: Final = (str(NOISE_PROTOCOL_ID),)
"""Security protocols a host offers and accepts, in preference order."""

MUXER_PROTOCOLS: Final = (str(YAMUX_PROTOCOL_ID),)
"""Stream multiplexers a host offers and accepts, in preference order."""


def security_options(key_pair: KeyPair) -> TSecurityOptions:
    """Noise (XX, X25519 static key made per host, the libp2p key signing it), and only Noise."""
    noise: ISecureTransport = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    return {TProtocol(NOISE_PROTOCOL_ID): noise}


def muxer_options() -> TMuxerOptions:
    """Yamux, and only Yamux."""
    return {TProtocol(YAMUX_PROTOCOL_ID): Yamux}
