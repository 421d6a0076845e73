"""`das altda serve`: the OP Stack Alt-DA server (specs/altda.md) for rollup operators: op-batcher
puts batches through it, op-node gets them back, and neither needs code of Tessera's."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import TYPE_CHECKING

from altda.cache import PayloadCache
from altda.config import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_CACHE_BYTES,
    DEFAULT_CERTIFY_TIMEOUT_S,
    DEFAULT_GET_TIMEOUT_S,
    AltDAConfig,
)
from altda.derivation import (
    DEFAULT_RECENCY_WINDOW_S,
    CertificateChecker,
    CertificatePending,
    CommitmentRejected,
    EpochClock,
    HeaderOf,
    OfflineChecker,
    OnchainChecker,
    check_commitment,
)
from altda.l1 import RpcL1Clock
from altda.server import AltDAMetrics, AltDAService, start_server
from altda.upstream import Validators
from cli.common import http_address_arg, non_negative_int, seconds_arg
from cli.paying import add_payment_arguments, open_account_payer
from cli.registry_args import add_registry_arguments, open_registry_from
from da.pool import EncoderPool

if TYPE_CHECKING:  # eth-account takes about a second to import: only a paying server loads it
    from validator.payments.payer import Payer

DEFAULT_LISTEN = ("127.0.0.1", 3100)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `das altda ...`."""

    parser = subparsers.add_parser("altda", help="the OP Stack Alt-DA server over Tessera validators")
    commands = parser.add_subparsers(title="altda commands", metavar="COMMAND", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve the Alt-DA HTTP protocol (POST /put, GET /get/0x..., /health, /metrics)",
        description="An OP Stack DA server (op-batcher --altda.da-server, op-node --altda.da-server). "
        "POST /put posts the payload to the validators (--node, in order; a busy or failing node is "
        "left for the next), waits for the certificate, verifies it against the registry and answers "
        "the raw commitment; 503 when none could be had within --certify-timeout (the batcher falls "
        "back to Ethereum DA). GET /get/0xCOMMITMENT checks the commitment (418 with StatusCode 1 "
        "parse, 2 recency, 3 invalid certificate, 4 blob decode), fetches the bytes from any "
        "validator and checks them against the data root; 404 when no validator has them.",
    )
    serve.add_argument("--listen", type=http_address_arg, default=DEFAULT_LISTEN, metavar="HOST:PORT",
                       help="where to serve (default 127.0.0.1:3100; port 0 picks a free one)")  # fmt: skip
    serve.add_argument("--node", action="append", required=True, metavar="URL",
                       help="a validator's API URL; repeat it: nodes are tried in order")  # fmt: skip
    add_registry_arguments(serve)
    add_payment_arguments(
        serve,
        keystore_help="the rollup's Ethereum account keystore, which pays validators that take payments "
        "(its escrow: `das sequencer deposit`); without it, posts carry no promise and a validator that "
        "asks for payment (402) is passed over for the next",
        ttl_help="how long a promise is valid (default 600): each attempt on a node signs its own "
        "promise and posts it once (a node that answers 429 is passed over until the next round), so "
        "the TTL only has to outlast one post",
    )
    serve.add_argument("--verifier-address", metavar="0xADDR",
                       help="with --rpc: check certificates with the TesseraVerifier contract "
                       "(checkCertificate, eth_call) instead of offline")  # fmt: skip
    serve.add_argument("--certify-timeout", type=seconds_arg, default=DEFAULT_CERTIFY_TIMEOUT_S,
                       help=f"seconds a put may wait for a verified certificate before answering 503 "
                       f"(default {DEFAULT_CERTIFY_TIMEOUT_S:g})")  # fmt: skip
    serve.add_argument("--get-timeout", type=seconds_arg, default=DEFAULT_GET_TIMEOUT_S,
                       help="seconds one validator may take to give a blob "
                       f"(default {DEFAULT_GET_TIMEOUT_S:g})")  # fmt: skip
    serve.add_argument("--body-timeout", type=seconds_arg, default=DEFAULT_BODY_TIMEOUT_S,
                       help="seconds a put's payload may take to arrive before answering 408 "
                       f"(default {DEFAULT_BODY_TIMEOUT_S:g})")  # fmt: skip
    serve.add_argument("--cache-mib", type=non_negative_int, default=DEFAULT_CACHE_BYTES >> 20,
                       help=f"read cache bound in MiB (default {DEFAULT_CACHE_BYTES >> 20}; 0: none)",
                       )  # fmt: skip
    serve.add_argument("--recency-window", type=float, default=DEFAULT_RECENCY_WINDOW_S, metavar="SECONDS",
                       help="how long after its certificate's epoch ended a commitment may land on L1 "
                       f"(default {DEFAULT_RECENCY_WINDOW_S:g} s: EigenDA's 14,400 blocks of 12 s)",
                       )  # fmt: skip
    serve.add_argument("--l1-rpc", metavar="URL",
                       help="the rollup's L1 JSON-RPC: the timestamps the recency rule needs (without it, "
                       "?l1_inclusion_block_number is not checked)")  # fmt: skip
    serve.set_defaults(run=run_serve)

    check = commands.add_parser(
        "check",
        help="check a commitment as a derivation does (exit 0 valid, 1 drop, 2 not checkable yet or usage)",
        description="Parse the commitment, apply the recency rule (with --l1-block-time), and verify its "
        "certificate offline against the registry or, with --verifier-address, with the verifier "
        "contract's checkCertificate. Exit 0 when a derivation keeps it, 1 when it drops it (the "
        "op-alt-da StatusCode is printed), 2 when it cannot be judged yet or on a usage error.",
    )
    check.add_argument("commitment", help="the commitment, 0x-hex (without the 0x01 calldata version)")
    add_registry_arguments(check)
    check.add_argument("--verifier-address", metavar="0xADDR", help="with --rpc: check on-chain")
    check.add_argument("--l1-block-time", type=float, metavar="UNIX_SECONDS",
                       help="the including L1 block's timestamp (applies the recency rule)")  # fmt: skip
    check.add_argument("--recency-window", type=float, default=DEFAULT_RECENCY_WINDOW_S, metavar="SECONDS")
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")
    check.set_defaults(run=run_check)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM."""

    host, port = args.listen
    config = AltDAConfig(
        nodes=tuple(args.node), host=host, port=port, certify_timeout_s=args.certify_timeout,
        get_timeout_s=args.get_timeout, body_timeout_s=args.body_timeout, cache_bytes=args.cache_mib << 20,
        recency_window_s=args.recency_window, l1_rpc=args.l1_rpc,
    ).validate()  # fmt: skip
    payer = open_account_payer(args)
    try:
        with open_registry_from(args) as registry, EncoderPool(workers=1, precompute=0) as pool:
            info = registry.get_info()
            checker: CertificateChecker = OfflineChecker(registry)
            if args.verifier_address:
                from cli.cert import _open_verifier  # noqa: PLC0415 - web3 only with --verifier-address

                checker = OnchainChecker(_open_verifier(args))
            clock = EpochClock(info.genesis_time, info.epoch_seconds)
            service = _service(config, checker, clock, pool.compute_blob_header, payer)
            asyncio.run(_serve(service))
    finally:
        if payer is not None:
            payer.counters.close()
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Judge one commitment; exit 0 keep, 1 drop, 2 not checkable yet."""
    text = str(args.commitment)
    try:
        data = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        data = b""  # judged as a commitment that does not parse
    with open_registry_from(args) as registry:
        info = registry.get_info()
        checker: CertificateChecker = OfflineChecker(registry)
        if args.verifier_address:
            from cli.cert import _open_verifier  # noqa: PLC0415 - web3 only with --verifier-address

            checker = OnchainChecker(_open_verifier(args))
        clock = EpochClock(info.genesis_time, info.epoch_seconds)
        verdict: dict[str, object]
        try:
            commitment = check_commitment(
                data, checker, clock, l1_block_time=args.l1_block_time, window_s=args.recency_window
            )
            certificate = commitment.certificate
            verdict = {"valid": True, "data_root": "0x" + commitment.data_root.hex(),
                       "epoch": certificate.epoch, "quorum": certificate.quorum}  # fmt: skip
            code = 0
        except CommitmentRejected as rejected:
            verdict = {"valid": False, "status_code": int(rejected.code), "reason": rejected.reason}
            code = 1
        except CertificatePending as pending:
            verdict = {"valid": False, "pending": True, "reason": str(pending)}
            code = 2
    if args.json:
        print(json.dumps(verdict))
    elif verdict["valid"]:
        print(
            f"VALID: data root {verdict['data_root']} (epoch {verdict['epoch']}, quorum {verdict['quorum']})"
        )
    elif code == 1:
        print(f"DROP (StatusCode {verdict['status_code']}): {verdict['reason']}")
    else:
        print(f"NOT YET CHECKABLE: {verdict['reason']}")
    return code


def _service(
    config: AltDAConfig,
    checker: CertificateChecker,
    clock: EpochClock,
    header_of: HeaderOf,
    payer: Payer | None = None,
) -> AltDAService:
    """The server's parts over the registry's checker, the header computation and the payer."""
    return AltDAService(
        config=config,
        validators=Validators(config.nodes, checker, config.get_timeout_s, config.max_blob_bytes, payer),
        checker=checker,
        clock=clock,
        header_of=header_of,
        l1=RpcL1Clock(config.l1_rpc) if config.l1_rpc else None,
        cache=PayloadCache(config.cache_bytes),
        metrics=AltDAMetrics(),
    )


async def _serve(service: AltDAService) -> None:
    """Run the server; print its URL (a line tests and scripts read); stop on SIGINT/SIGTERM."""
    server = await start_server(service)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        print(f"altda listening {server.url}", flush=True)
        print(f"  validators {' '.join(service.validators.urls)}", flush=True)
        await stop.wait()
    finally:
        with contextlib.suppress(RuntimeError):
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        await server.close()
        service.close()
        print("altda stopped", file=sys.stderr, flush=True)
