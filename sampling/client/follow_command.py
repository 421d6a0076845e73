"""`das light follow` as a plain function (it runs its own `trio.run`), for `cli.light`."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
import trio

from da.kzg import CellVerifier
from network.config import NetworkConfig
from network.constants import compute_network_name
from network.service import open_service
from sampling.client.assignment import RegistryCertificateValidator, RegistryView
from sampling.client.check_command import unwrap
from sampling.client.defaults import DEFAULT_REGISTRY_PEERS
from sampling.client.directory import split_multiaddr
from sampling.client.errors import AssignmentUnknown
from sampling.client.follow import (
    Follower,
    FollowOptions,
    ResultCallback,
    connect_registry_peers,
)
from sampling.client.status_http import serve_status
from sampling.client.status_routes import make_router
from sampling.store import ResultStore
from validator.registry.backends import RegistryLocation, open_registry

log = structlog.get_logger(__name__)

CLOSE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class FollowSettings:
    """Everything `das light follow` was told."""

    registry: RegistryLocation
    db: Path
    peers: tuple[str, ...] = ()
    registry_peers: int = DEFAULT_REGISTRY_PEERS
    http: tuple[str, int] | None = None
    network_name: str | None = None
    """The gossip topics' network name; None: the validators' own, `tessera-{chain id}`."""
    options: FollowOptions = field(default_factory=FollowOptions)


@dataclass(frozen=True, slots=True)
class FollowStarted:
    """What a started follower tells its user."""

    topic: str
    peer_id: str
    finished_before: int
    resumed: int
    status_url: str | None


@dataclass(frozen=True, slots=True)
class FollowStopped:
    """How a follower ended."""

    signal_name: str | None
    finished: int
    waiting: int


def follow(
    settings: FollowSettings,
    verifier: CellVerifier,
    on_started: Callable[[FollowStarted], None],
    on_result: ResultCallback,
) -> FollowStopped:
    """`das light follow`: follow until SIGINT or SIGTERM, then stop cleanly (main thread only)."""
    try:
        return trio.run(_follow, settings, verifier, on_started, on_result)
    except BaseExceptionGroup as group:
        raise unwrap(group) from None


async def _follow(
    settings: FollowSettings,
    verifier: CellVerifier,
    on_started: Callable[[FollowStarted], None],
    on_result: ResultCallback,
) -> FollowStopped:
    received: list[str] = []
    with open_registry(settings.registry) as registry, ResultStore(settings.db) as store:
        config = NetworkConfig(
            network_name=settings.network_name or compute_network_name(registry.get_info().chain_id),
            bootstrap_peers=settings.peers,
            response_timeout=settings.options.timeout,
            dial_timeout=settings.options.timeout,
        )
        try:
            bootstrap = tuple(split_multiaddr(address)[0] for address in settings.peers)
        except ValueError as error:
            raise AssignmentUnknown(f"bad --peer address: {error}") from error
        view = RegistryView(registry)
        validator = RegistryCertificateValidator(view)
        async with open_service(config, certificate_validator=validator) as service:
            follower = Follower(
                service, view, store, verifier, settings.options, bootstrap=bootstrap, on_result=on_result
            )
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async with trio.open_nursery() as nursery:

                    async def stop_on_signal() -> None:
                        async for number in signals:
                            received.append(signal.Signals(number).name)
                            log.info("stopping", signal=received[-1])
                            nursery.cancel_scope.cancel()
                            return

                    nursery.start_soon(stop_on_signal)
                    await nursery.start(follower.run)
                    url = None
                    if settings.http is not None:
                        host, port = await nursery.start(serve_status, make_router(follower), *settings.http)
                        url = f"http://{host}:{port}/v1/status"
                    on_started(
                        FollowStarted(
                            topic=config.certificate_topic,
                            peer_id=service.peer_id,
                            finished_before=store.count(),
                            resumed=len(follower.resumed),
                            status_url=url,
                        )
                    )
                    if settings.registry_peers:
                        epoch = registry.current_epoch()
                        nursery.start_soon(
                            connect_registry_peers, service, view, epoch, settings.registry_peers
                        )
                with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_SECONDS):
                    await service.shut_connections()  # at once, not one by one in host.close()
        waiting = len(store.get_pending())
    return FollowStopped(
        signal_name=received[0] if received else None, finished=follower.finished, waiting=waiting
    )
