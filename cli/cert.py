"""`das cert verify FILE (--registry R | --rpc URL --registry-address A)`: verify an availability
certificate against the registry's view of its epoch (a file, or the registry contract on a chain)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from cli.common import read_certificate_file
from cli.registry_args import add_registry_arguments, open_registry_from
from network.logs import configure_logging
from validator.certificate import bytes_to_certificate, verify_certificate
from validator.errors import MalformedCertificate, UnknownEpoch
from validator.registry import get_registry_preset

EXIT_VALID = 0
EXIT_INVALID = 1


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `das cert ...`."""
    parser = subparsers.add_parser("cert", help="availability certificates")
    commands = parser.add_subparsers(title="cert commands", metavar="COMMAND", required=True)
    verify = commands.add_parser(
        "verify",
        help="verify a certificate against a registry (exit 0 valid, 1 invalid)",
        description="Check a certificate's quorum, signer bitfield, 2/3 threshold and aggregate BLS "
        "signature against the registry's view of its epoch. Exit 0 when valid, 1 when invalid "
        "(the reason is printed), 2 on a usage error.",
    )
    verify.add_argument("file", type=Path, help="certificate file (SSZ bytes, or 0x-hex text)")
    add_registry_arguments(verify)
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    verify.set_defaults(run=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    """Verify and report; exit code 0 valid, 1 invalid."""
    started = time.perf_counter()
    configure_logging(verbose=False)  # the verdict is the output; RPC retries are debug records
    with open_registry_from(args) as registry:
        preset = get_registry_preset(registry)
        try:
            certificate = bytes_to_certificate(read_certificate_file(args.file))
            verdict = verify_certificate(certificate, registry.get_epoch_context(certificate.epoch), preset)
            valid, reason = verdict.valid, verdict.reason
            details = {
                "data_root": "0x" + certificate.data_root.hex(),
                "epoch": certificate.epoch,
                "quorum": certificate.quorum,
                "signed_slots": verdict.signed_slots,
                "threshold": verdict.threshold,
            }
        except (MalformedCertificate, UnknownEpoch) as error:
            valid, reason, details = False, str(error), {}
    elapsed_ms = 1000 * (time.perf_counter() - started)
    if args.json:
        print(
            json.dumps(
                {
                    "valid": valid,
                    "reason": reason,
                    "preset": preset.name,
                    **details,
                    "elapsed_ms": round(elapsed_ms, 2),
                }
            )
        )
    else:
        print(f"{'VALID' if valid else 'INVALID'}: {reason}")
        print(f"preset {preset.name}; checked in {elapsed_ms:.1f} ms")
        for key, value in details.items():
            print(f"  {key:<13}{value}")
    return EXIT_VALID if valid else EXIT_INVALID
