"""`das blob post | status | get`: a sequencer's view of a validator's HTTP API (stdlib HTTP, no asyncio)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from network.cli.progress import Progress

DEFAULT_NODE = "http://127.0.0.1:8545"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class ApiFailure(Exception):
    """Raised when the node answers with an error or cannot be reached; carries the JSON error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def request(method: str, url: str, body: bytes | None = None, timeout: float = 60.0) -> bytes:
    """One HTTP request; JSON errors and connection failures become `ApiFailure`."""
    if not url.startswith(("http://", "https://")):
        raise ApiFailure("invalid_argument", f"{url} is not an http(s) URL")
    headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
    try:
        prepared = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
        with urllib.request.urlopen(prepared, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            return bytes(response.read())
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read())["error"]
            raise ApiFailure(detail["code"], detail["message"]) from error
        except (ValueError, KeyError, TypeError):
            raise ApiFailure("http_error", f"HTTP {error.code}") from error
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise ApiFailure("unreachable", f"cannot reach {url}: {getattr(error, 'reason', error)}") from error


def get_status(node: str, data_root: str) -> dict[str, Any]:
    """The JSON status of a blob."""
    return dict(json.loads(request("GET", f"{node}/v1/blobs/{data_root}")))


def wait_for_certificate(
    node: str, data_root: str, timeout: float, progress: Progress | None = None
) -> dict[str, Any]:
    """Poll the status until certified or failed (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    status = get_status(node, data_root)
    while status["status"] not in {"certified", "failed"} and time.monotonic() < deadline:
        if progress is not None:
            progress(int(status.get("signed_slots", 0)), max(int(status.get("threshold", 1)), 1))
        time.sleep(0.1)
        status = get_status(node, data_root)
    return status


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `das blob ...`."""
    parser = subparsers.add_parser("blob", help="post blobs to a validator and fetch them back")
    commands = parser.add_subparsers(title="blob commands", metavar="COMMAND", required=True)
    post = commands.add_parser(
        "post",
        help="post a blob file to a validator",
        description="Post FILE's bytes to a validator's "
        "HTTP API. Posting the same bytes again returns the same data root and never disperses twice. "
        "With --wait, follow the blob until it is certified (exit 0) or fails (exit 1).",
    )
    post.add_argument("file", type=Path, help="the blob (at most 2 MiB by default)")
    post.add_argument("--node", default=DEFAULT_NODE, help=f"validator API URL (default {DEFAULT_NODE})")
    post.add_argument("--wait", action="store_true", help="wait for the availability certificate")
    post.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait with --wait (default 120)"
    )
    post.add_argument("--cert-out", type=Path, help="with --wait, write the certificate (SSZ) here")
    post.add_argument("--json", action="store_true", help="print JSON")
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
    """Post, and optionally wait for the certificate."""
    try:
        data = args.file.read_bytes()
        started = time.monotonic()
        status = json.loads(request("POST", f"{args.node}/v1/blobs", data))
        if args.wait:
            status = wait_for_certificate(
                args.node, status["data_root"], args.timeout, Progress("signed slots")
            )
            if status["status"] == "certified" and args.cert_out:
                args.cert_out.write_bytes(
                    request("GET", f"{args.node}/v1/blobs/{status['data_root']}/certificate")
                )
        status["elapsed_s"] = round(time.monotonic() - started, 3)
    except ApiFailure as error:
        print(f"das: error: {error}", file=sys.stderr)
        return EXIT_USAGE if error.code != "service_unavailable" else EXIT_FAILED
    if args.json:
        print(json.dumps(status))
    else:
        print(f"data root   {status['data_root']}")
        signed = f"{status.get('signed_slots', 0)}/{status.get('threshold', '?')} slots"
        print(f"status      {status['status']} ({signed})")
        where = f"epoch {status.get('epoch')}  quorum {status.get('quorum')}"
        print(f"dispersal   {where}  in {status['elapsed_s']:.2f} s")
    if args.wait and status["status"] != "certified":
        return EXIT_FAILED
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    """Print a blob's status as JSON."""
    try:
        print(json.dumps(get_status(args.node, args.data_root)))
    except ApiFailure as error:
        print(f"das: error: {error}", file=sys.stderr)
        return EXIT_FAILED if error.code == "not_found" else EXIT_USAGE
    return EXIT_OK


def run_get(args: argparse.Namespace) -> int:
    """Write a blob's bytes to a file."""
    try:
        data = request("GET", f"{args.node}/v1/blobs/{args.data_root}/data", timeout=120.0)
    except ApiFailure as error:
        print(f"das: error: {error}", file=sys.stderr)
        return EXIT_FAILED if error.code in {"not_found", "service_unavailable"} else EXIT_USAGE
    args.output.write_bytes(data)
    print(f"wrote {len(data)} bytes to {args.output}")
    return EXIT_OK
