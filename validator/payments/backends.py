"""Opening the escrow of a registry by where the registry is, as `open_registry` does for the
registry: the escrow tables of a registry file, or the `TesseraPayments` contract beside a chain
registry (`ChainPayments`, imported only then, as the chain registry's backend is)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from validator.payments.port import EscrowReader, PromiseSettler
from validator.payments.sqlite_escrow import EscrowError, SqliteEscrow
from validator.registry.backends import ChainLocation

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount


class Escrow(EscrowReader, PromiseSettler, Protocol):
    """What a node needs of an escrow: read it, and settle its promises."""

    def close(self) -> None:
        """Release the backend's connection."""


def open_escrow(
    location: str | os.PathLike[str] | ChainLocation,
    *,
    payments_address: str | None = None,
    account: LocalAccount | None = None,
) -> Escrow:
    """The escrow beside the registry at `location`; raises `EscrowError` when there is none.

    On a chain it is the payments contract at `payments_address`, bound to the registry (one
    deployed for another registry is refused), read at the registry's confirmations with its retry
    policy; `account` (the node's eth_keystore account) sends the settlements. A registry file keeps
    its escrow inside and takes neither."""
    if isinstance(location, ChainLocation):
        if payments_address is None:
            raise EscrowError(
                f"no payments contract given for the chain registry {location.address}: set "
                "payments_address (or payments = false on a private network; specs/validator.md, Payments)"
            )
        from validator.registry.chain.payments import ChainPayments  # noqa: PLC0415 - web3 when asked

        return ChainPayments(
            location.rpc_url,
            payments_address,
            account=account,
            registry_address=location.address,
            confirmations=location.confirmations,
            retry=location.retry,
        )
    if payments_address is not None:
        raise EscrowError(f"the registry file {location} keeps its escrow inside: give no payments_address")
    return SqliteEscrow(Path(location))
