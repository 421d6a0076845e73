"""`das cert verify FILE (--registry R | --rpc URL --registry-address A) [--onchain --verifier-address V]`:
verify an availability certificate against the registry's view of its epoch (a file, or the registry
contract on a chain), or ask the chain's certificate verifier contract for its verdict (eth_call).
`das cert publish FILE --rpc URL --registry-address A --verifier-address V --eth-keystore E`: make the
certificate's quorum checkable on-chain (commit its epoch's quorums, publish its keys)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cli.common import read_certificate_file
from cli.registry_args import add_registry_arguments, open_registry_from
from network.logs import configure_logging
from validator.certificate import CertificateStatus, bytes_to_certificate, verify_certificate
from validator.errors import MalformedCertificate, RegistryError, UnknownEpoch
from validator.passwords import resolve_password
from validator.quorums import compute_quorums
from validator.registry import get_registry_preset

if TYPE_CHECKING:
    from validator.registry.chain.verifier import ChainVerifier, OnchainVerdict

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
    verify.add_argument(
        "--onchain",
        action="store_true",
        help="ask the certificate verifier contract (eth_call; with --rpc and --verifier-address) "
        "instead of checking here; same verdict and exit code",
    )
    _add_verifier_argument(verify)
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    verify.set_defaults(run=run_verify)

    publish = commands.add_parser(
        "publish",
        help="make a certificate's quorum checkable on-chain (commit its epoch, publish its keys)",
        description="Send what the certificate verifier contract still needs before it can check "
        "this certificate: the commitment of the certificate's epoch's quorums (once per epoch, after "
        "the epoch has started) and the publication of its quorum's keys (once per quorum). The "
        "contract checks both against the registry, so any funded account may send them. Prints each "
        "transaction with its gas; nothing is sent when both are done.",
    )
    publish.add_argument("file", type=Path, help="certificate file (SSZ bytes, or 0x-hex text)")
    add_registry_arguments(publish, signs=True)
    _add_verifier_argument(publish)
    publish.add_argument("--json", action="store_true", help="print the transactions as JSON")
    publish.set_defaults(run=run_publish)


def _add_verifier_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verifier-address",
        metavar="0xADDR",
        help="the TesseraVerifier contract of the registry (`das devnet status --json` shows the devnet's)",
    )


def _open_verifier(args: argparse.Namespace, *, signs: bool = False, rpc: int = 0) -> ChainVerifier:
    """The verifier the arguments name (through their `rpc`-th RPC), checked to serve the registry
    they name."""
    from validator.registry.chain.verifier import ChainVerifier  # noqa: PLC0415 - web3 only here

    if args.rpc is None or not args.registry_address:
        raise RegistryError("the certificate verifier lives on a chain: give --rpc URL --registry-address A")
    if not args.verifier_address:
        raise RegistryError("give --verifier-address (the registry's TesseraVerifier contract)")
    account = None
    if signs:
        if args.eth_keystore is None:
            raise RegistryError("publishing sends transactions: give --eth-keystore (an Ethereum account)")
        from validator.registry.chain.accounts import load_account  # noqa: PLC0415

        password = resolve_password(password_file=args.eth_password_file, env_var="TESSERA_ETH_PASSWORD")
        account = load_account(args.eth_keystore, password)
    verifier = ChainVerifier(args.rpc[rpc], args.verifier_address, account=account)
    if verifier.registry_address.lower() != str(args.registry_address).lower():
        raise RegistryError(
            f"verifier {verifier.address} checks certificates of registry {verifier.registry_address}, "
            f"not of {args.registry_address}"
        )
    return verifier


def run_verify(args: argparse.Namespace) -> int:
    """Verify and report; exit code 0 valid, 1 invalid."""
    started = time.perf_counter()
    configure_logging(verbose=False)  # the verdict is the output; RPC retries are debug records
    data = read_certificate_file(args.file)
    details: dict[str, object] = {}
    try:
        certificate = bytes_to_certificate(data)
        details = {"data_root": "0x" + certificate.data_root.hex(), "epoch": certificate.epoch,
                   "quorum": certificate.quorum}  # fmt: skip
    except MalformedCertificate as error:
        certificate, malformed = None, str(error)
    if args.onchain:
        verifier = _open_verifier(args)
        onchain = _agreed_onchain_verdict(args, verifier, data)
        status, preset_name = onchain.status, None
        reason = malformed if certificate is None else _describe(onchain.status, onchain.signed_slots,
                                                                onchain.threshold)  # fmt: skip
        details |= {"signed_slots": onchain.signed_slots, "threshold": onchain.threshold,
                    "verifier_address": verifier.address}  # fmt: skip
    else:
        with open_registry_from(args) as registry:
            preset = get_registry_preset(registry)
            preset_name = preset.name
            if certificate is None:
                status, reason = CertificateStatus.MALFORMED, malformed
            else:
                try:
                    verdict = verify_certificate(
                        certificate, registry.get_epoch_context(certificate.epoch), preset
                    )
                    status, reason = verdict.status, verdict.reason
                    details |= {"signed_slots": verdict.signed_slots, "threshold": verdict.threshold}
                except UnknownEpoch as error:
                    status, reason = CertificateStatus.UNKNOWN_EPOCH, str(error)
    valid = status is CertificateStatus.VALID
    elapsed_ms = 1000 * (time.perf_counter() - started)
    where = "on-chain" if args.onchain else "offline"
    if args.json:
        report = {"valid": valid, "status": status.name, "reason": reason, "checked": where}
        if preset_name is not None:
            report["preset"] = preset_name
        print(json.dumps({**report, **details, "elapsed_ms": round(elapsed_ms, 2)}))
    else:
        print(f"{'VALID' if valid else 'INVALID'}: {reason}")
        shown = (
            f"preset {preset_name}" if preset_name is not None else f"verifier {details['verifier_address']}"
        )
        print(f"{shown}; checked {where} in {elapsed_ms:.1f} ms")
        for key, value in details.items():
            if key != "verifier_address":
                print(f"  {key:<13}{value}")
    return EXIT_VALID if valid else EXIT_INVALID


def _agreed_onchain_verdict(args: argparse.Namespace, first: ChainVerifier, data: bytes) -> OnchainVerdict:
    """The verifier contract's verdict through every --rpc; at least --rpc-quorum (default all) must
    give the same one, else `RpcDisagreement` naming the verdicts."""
    from validator.registry.chain.agreement import RpcDisagreement  # noqa: PLC0415 - web3 only here
    from validator.registry.chain.retry import validate_rpc_quorum  # noqa: PLC0415

    quorum = validate_rpc_quorum(args.rpc_quorum, len(args.rpc))
    verdicts = [first.check_certificate(data)]
    verdicts += [_open_verifier(args, rpc=i).check_certificate(data) for i in range(1, len(args.rpc))]
    for verdict in verdicts:
        if sum(other == verdict for other in verdicts) >= quorum:
            return verdict
    said = ", ".join(f"{url}: {v.status.name}" for url, v in zip(args.rpc, verdicts, strict=True))
    raise RpcDisagreement("the on-chain verdict", said, quorum, len(args.rpc))


def _describe(status: CertificateStatus, signed: int, threshold: int) -> str:
    """A user's sentence for the verifier contract's status."""
    return {
        CertificateStatus.VALID: f"{signed} slots signed (threshold {threshold}), checked by the contract",
        CertificateStatus.MALFORMED: "the bytes are not a certificate",
        CertificateStatus.EPOCH_NOT_COMMITTED: "the verifier has no quorums for this epoch yet "
        "(run `das cert publish` once the epoch has started)",
        CertificateStatus.NO_SUCH_QUORUM: "the quorum does not exist in its epoch",
        CertificateStatus.QUORUM_NOT_PUBLISHED: "the quorum's keys are not published yet "
        "(run `das cert publish`)",
        CertificateStatus.WRONG_SIGNER_COUNT: "the signer bitfield's length is not the quorum's slot count",
        CertificateStatus.PARTIAL_SIGNER: "a member's slots are only partly marked as signed",
        CertificateStatus.BELOW_THRESHOLD: f"{signed} slots signed, {threshold} needed",
        CertificateStatus.INVALID_SIGNATURE: "aggregate signature does not verify",
        CertificateStatus.WRONG_EPOCH: "the context is of another epoch",
        CertificateStatus.UNKNOWN_EPOCH: "the registry has no context for the epoch yet",
    }[status]


def run_publish(args: argparse.Namespace) -> int:
    """Commit and publish what the certificate's quorum needs; exit 0 when it is checkable."""
    configure_logging(verbose=False)
    certificate = bytes_to_certificate(read_certificate_file(args.file))
    verifier = _open_verifier(args, signs=True)
    with open_registry_from(args) as registry:
        if registry.current_epoch() < certificate.epoch:
            raise RegistryError(
                f"epoch {certificate.epoch} has not started: its quorums can be committed from then on"
            )
        context = registry.get_epoch_context(certificate.epoch)
        quorums = compute_quorums(context, get_registry_preset(registry))
    if not 0 <= certificate.quorum < len(quorums):
        raise RegistryError(f"quorum {certificate.quorum} does not exist ({len(quorums)} quorums)")
    sent = verifier.prepare(context, quorums[certificate.quorum])
    rows = [{"function": name, "tx": tx.tx_hash, "block": tx.block_number, "gas_used": tx.gas_used}
            for name, tx in sent]  # fmt: skip
    data = verifier.quorum_data(certificate.epoch, certificate.quorum)
    if args.json:
        print(json.dumps({"epoch": certificate.epoch, "quorum": certificate.quorum, "transactions": rows,
                          "quorum_data": data, "verifier_address": verifier.address}))  # fmt: skip
        return EXIT_VALID
    if not rows:
        print(f"epoch {certificate.epoch} quorum {certificate.quorum} was already checkable on-chain")
    for row in rows:
        print(f"{row['function']}: {row['tx']} (block {row['block']}, {row['gas_used']:,} gas)")
    print(
        f"quorum {certificate.quorum} of epoch {certificate.epoch}: keys at {data}; "
        f"verifier {verifier.address}"
    )
    return EXIT_VALID
