"""The account a post is admitted for when it carries no paid identity: its client's address.
Fair admission (`validator.daemon.admission`) shares the node's queues between accounts; with
payments off (a private network) an account is an address, so a flooding host delays only itself.
Pure: no I/O."""

from __future__ import annotations

import ipaddress

UNKNOWN_ADDRESS_ACCOUNT = "ip:unknown"
"""The account of posts whose remote address is unknown or unparsable (a Unix socket)."""
IPV6_ACCOUNT_PREFIX = 64
"""IPv6 clients are one account per /64: one host is commonly given a whole /64."""


def compute_address_account(remote: str | None) -> str:
    """The account of a post with no paid identity: its client's address (`ip:198.51.100.7`; IPv6 by
    /64, `ip:2001:db8::/64`; an IPv4-mapped IPv6 address as its IPv4). The address is the TCP peer's:
    no forwarding header is believed, so behind a reverse proxy every client shares the proxy's."""
    if remote is None:
        return UNKNOWN_ADDRESS_ACCOUNT
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return UNKNOWN_ADDRESS_ACCOUNT
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((address, IPV6_ACCOUNT_PREFIX), strict=False)}"
    return f"ip:{address}"
