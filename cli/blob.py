"""`das blob post | status | get`: a sequencer's view of a validator's HTTP API."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.paying import add_payment_arguments, explain_refusal, open_payer
from cli.progress import Progress
from da.config import DAConfig
from da.constants import DEFAULT_MAX_BLOB_BYTES
from da.errors import DAError
from da.kzg import PRECOMPUTE_FOR_PROVING
from da.media import UPLOAD_MEDIA_TYPE
from da.sequencer import MAX_PRECOMPUTE, EncoderSettings, encode_upload
from da.upload import bytes_to_upload
from validator.api_client import OCTET_STREAM, NodeApiClient
from validator.errors import ApiFailure

if TYPE_CHECKING:  # eth-account takes about a second to import: only a paid post loads it
    from validator.payments.payer import Payer, Payment

DEFAULT_NODE = "http://127.0.0.1:8545"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `das blob ...`."""
    parser = subparsers.add_parser("blob", help="post blobs to a validator and fetch them back")
    commands = parser.add_subparsers(title="blob commands", metavar="COMMAND", required=True)
    post = commands.add_parser(
        "post",
        help="post a blob file to a validator",
        description="Post FILE's bytes to a validator's "
        "HTTP API. The blob is encoded here, on this machine's cores (its row commitments and cell "
        "proofs: about 0.2 s of CPU per 126 KiB row), and uploaded with them (1.05 x its bytes); the node "
        "only verifies them, about 15 x less work than encoding. With --raw the bytes alone are "
        "posted and the node encodes them (for thin clients; the first refused when the node is busy). "
        "Posting the same bytes again returns the same data root and never disperses twice. "
        "The node answers once the blob is durably queued (status received); a node whose queue is "
        "full answers HTTP 429 and the blob is posted again after its Retry-After (see --busy-timeout). "
        "With --wait, follow the blob until it is certified (exit 0) or fails (exit 1). "
        "A node that takes payments (GET /v1/payments) is paid with a promise signed by --eth-keystore's "
        "account: the blob's cost at the node's price, added to the cumulative amount promised to that "
        "node so far (kept in --counters, written before the promise is sent); a refusal (402, 401) "
        "names its code and what is missing. A node with payments off is posted to with no promise.",
    )
    post.add_argument(
        "file", type=Path, help=f"the blob (at most {DEFAULT_MAX_BLOB_BYTES // 2**20} MiB by default)"
    )
    post.add_argument("--node", default=DEFAULT_NODE, help=f"validator API URL (default {DEFAULT_NODE})")
    post.add_argument("--wait", action="store_true", help="wait for the availability certificate")
    post.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait with --wait (default 120)"
    )
    post.add_argument("--cert-out", type=Path, help="with --wait, write the certificate (SSZ) here")
    post.add_argument(
        "--busy-timeout",
        type=float,
        default=300.0,
        help="seconds to keep posting again, after each Retry-After, while the node answers 429 "
        "(its queue is full); 0 gives up at the first refusal (default 300)",
    )
    post.add_argument(
        "--raw",
        action="store_true",
        help="post the bytes alone and let the node encode them (a thin client: no encoding here)",
    )
    post.add_argument(
        "--encoder-workers",
        type=int,
        default=None,
        metavar="N",
        help="processes that encode the rows (default: one per core, at most one per row; 1: this process)",
    )
    post.add_argument(
        "--precompute",
        type=int,
        default=PRECOMPUTE_FOR_PROVING,
        metavar="LEVEL",
        help=f"ckzg precomputation level 0..{MAX_PRECOMPUTE} (default {PRECOMPUTE_FOR_PROVING}); per row "
        "on a 2-vCPU box: 0: 359 ms; 8: 205 ms (~100 MiB per process); 10: 183 ms (+388 MiB); "
        "12: 172 ms (+1.5 GiB)",
    )
    post.add_argument(
        "--json",
        action="store_true",
        help="print JSON (with `payment`: account, node, "
        "cumulative, increment, ...; null when the node took none)",
    )
    add_payment_arguments(post)
    post.set_defaults(run=run_post)
    status = commands.add_parser("status", help="a blob's status on a validator")
    status.add_argument("data_root", help="0x-prefixed data root")
    status.add_argument("--node", default=DEFAULT_NODE, help="validator API URL")
    status.set_defaults(run=run_status)
    get = commands.add_parser("get", help="fetch a blob's bytes (recovered from custodians when needed)")
    get.add_argument("data_root", help="0x-prefixed data root")
    get.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    get.add_argument("--node", default=DEFAULT_NODE, help="validator API URL")
    get.set_defaults(run=run_get)


def run_post(args: argparse.Namespace) -> int:
    """Post (paying when the node takes payments), and optionally wait for the certificate."""
    payer: Payer | None = None
    try:
        data = args.file.read_bytes()
        node = NodeApiClient(args.node)
        payer, terms = open_payer(args, node)
        started = time.monotonic()
        paid = payer is not None and terms is not None and terms.enabled
        body, content_type, data_root = _body(args, data, paid)
        encode_s = None if args.raw else round(time.monotonic() - started, 3)
        if payer is None:
            status, payment = node.post_blob(body, args.busy_timeout, _report_busy, content_type), None
        else:
            status, payment = payer.post(
                node, body, data_root=data_root, byte_length=len(data), content_type=content_type,
                busy_timeout=args.busy_timeout, on_busy=_report_busy, node=terms,
            )  # fmt: skip
        busy_retries = status["busy_retries"]
        if args.wait:
            status = node.wait_for_certificate(status["data_root"], args.timeout, Progress("signed slots"))
            status["busy_retries"] = busy_retries
            if status["status"] == "certified" and args.cert_out:
                args.cert_out.write_bytes(node.get_certificate(status["data_root"]))
        status["elapsed_s"] = round(time.monotonic() - started, 3)
        status["encoded_by"] = "node" if args.raw else "client"
        status["encode_s"] = encode_s
        status["payment"] = None if payment is None else payment.to_json()
    except ApiFailure as error:
        print(f"das: error: {explain_refusal(error)}", file=sys.stderr)
        return EXIT_FAILED if error.code in {"service_unavailable", "too_many_requests"} else EXIT_USAGE
    except DAError as error:  # not a blob this network takes (empty, too large) or bad settings
        print(f"das: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if payer is not None:
            payer.counters.close()
    if args.json:
        print(json.dumps(status))
    else:
        _print_post(status, payment)
    if args.wait and status["status"] != "certified":
        return EXIT_FAILED
    return EXIT_OK


def _body(args: argparse.Namespace, data: bytes, paid: bool) -> tuple[bytes, str, bytes]:
    """What is posted: the body, its media type, and the blob's data root (needed to pay; computed for
    a raw post only when it is paid for)."""
    if args.raw:
        if not paid:
            return data, OCTET_STREAM, b""
        from validator.payments.payer import compute_raw_data_root  # noqa: PLC0415 - a paid post only

        return data, OCTET_STREAM, compute_raw_data_root(data)
    settings = EncoderSettings(args.encoder_workers, args.precompute)
    upload = encode_upload(data, settings, progress=Progress("encoding rows"))
    return upload, UPLOAD_MEDIA_TYPE, bytes(bytes_to_upload(upload, DAConfig()).data_root)


def _print_post(status: dict[str, Any], payment: Payment | None) -> None:
    print(f"data root   {status['data_root']}")
    signed = f"{status.get('signed_slots', 0)}/{status.get('threshold', '?')} slots"
    print(f"status      {status['status']} ({signed})")
    where = f"epoch {status.get('epoch')}  quorum {status.get('quorum')}"
    print(f"dispersal   {where}  in {status['elapsed_s']:.2f} s")
    if status["encode_s"] is not None:
        print(f"encoded     here in {status['encode_s']:.2f} s (the node verified)")
    if status["busy_retries"]:
        print(f"node busy   posted again {status['busy_retries']} times after HTTP 429")
    if payment is not None:
        print(
            f"paid        {payment.increment} wei to {payment.node} from {payment.account} "
            f"(cumulative {payment.cumulative}, {payment.billed_bytes} bytes billed)"
        )


def _report_busy(refusal: ApiFailure, pause: float) -> None:
    """A visible wait: the node refused the blob for now (HTTP 429) and will be asked again."""
    print(f"das: node busy ({refusal.message}); posting again in {pause:g} s", file=sys.stderr)


def run_status(args: argparse.Namespace) -> int:
    """Print a blob's status as JSON."""
    try:
        print(json.dumps(NodeApiClient(args.node).get_status(args.data_root)))
    except ApiFailure as error:
        print(f"das: error: {error}", file=sys.stderr)
        return EXIT_FAILED if error.code == "not_found" else EXIT_USAGE
    return EXIT_OK


def run_get(args: argparse.Namespace) -> int:
    """Write a blob's bytes to a file."""
    try:
        data = NodeApiClient(args.node).get_data(args.data_root, timeout=120.0)
    except ApiFailure as error:
        print(f"das: error: {error}", file=sys.stderr)
        return EXIT_FAILED if error.code in {"not_found", "service_unavailable"} else EXIT_USAGE
    args.output.write_bytes(data)
    print(f"wrote {len(data)} bytes to {args.output}")
    return EXIT_OK
