"""`das` as a user runs it: a real subprocess, its exit code and what it prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from da import DAConfig, bytes_to_upload, validate_upload
from da.constants import DEFAULT_MAX_BLOB_BYTES
from da.kzg import PRECOMPUTE_FOR_PROVING, load_ckzg_backend
from da.media import UPLOAD_MEDIA_TYPE
from tests.busy_node import serve_busy_node


def _das(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_help_lists_the_commands() -> None:
    result = _das("--help")
    assert result.returncode == 0
    assert "demo" in result.stdout
    assert "usage: das" in result.stdout


def test_no_command_prints_help_and_exits_2() -> None:
    result = _das()
    assert result.returncode == 2
    assert "usage: das" in result.stdout


def test_demo_reports_every_check_in_json() -> None:
    result = _das("demo", "--bytes", "200000", "--samples", "8", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["rows"] == 2
    assert report["samples"] == 8
    assert report["samples_valid"] and report["tampered_rejected"] and report["recovered_identical"]
    assert report["cells_kept"] == 2 * 64
    assert len(bytes.fromhex(report["data_root"])) == 32


def test_demo_text_report_with_encoder_pool() -> None:
    result = _das("demo", "--bytes", "1000", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Tessera DA demo: OK")
    assert "identical bytes" in result.stdout
    assert "one flipped bit -> rejected" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("demo", "--bytes", "0"), "blob is empty"),
        (
            ("demo", "--bytes", str(DEFAULT_MAX_BLOB_BYTES + 1)),
            f"over the limit of {DEFAULT_MAX_BLOB_BYTES} bytes",
        ),
        (("demo", "--samples", "0"), "must be 1 or more"),
        (("demo", "--bytes", "-3"), "must be 0 or more"),
    ],
)
def test_bad_arguments_get_a_clear_error_and_exit_2(args: tuple[str, ...], message: str) -> None:
    result = _das(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_chain_tool_is_an_error_message_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # contracts.toolchain's errors have their own root (it imports no other Tessera package); the
    # chain backend hands them on as registry errors, which das reports as one line.
    monkeypatch.setenv("TESSERA_ANVIL", str(tmp_path / "no-anvil"))
    directory = str(tmp_path / "d")
    result = _das("devnet", "up", "--chain", "anvil", "--detach", "--validators", "2", "--dir", directory)
    assert result.returncode == 2
    assert f"TESSERA_ANVIL={tmp_path / 'no-anvil'} is not a file" in result.stderr
    assert "Traceback" not in result.stderr


def test_das_blob_post_shows_the_wait_and_posts_again_while_the_node_answers_429(tmp_path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"a sequencer's batch")
    with serve_busy_node(busy=2, retry_after="0") as (url, handler):
        result = _das("blob", "post", str(blob), "--node", url, "--json", "--raw")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["busy_retries"] == 2
    assert result.stderr.count("das: node busy (queue full); posting again in 0 s") == 2
    assert handler.posts == [b"a sequencer's batch"] * 3
    assert handler.content_types == ["application/octet-stream"] * 3
    with serve_busy_node(busy=2, retry_after="0") as (url, _):
        human = _das("blob", "post", str(blob), "--node", url, "--raw")
    assert "node busy   posted again 2 times after HTTP 429" in human.stdout


def test_das_blob_post_encodes_here_and_uploads_the_blob_with_its_proofs(tmp_path) -> None:
    """By default the sequencer encodes: the node gets the pre-encoded upload, which checks."""
    data = b"a sequencer's batch" * 100
    blob = tmp_path / "blob.bin"
    blob.write_bytes(data)
    with serve_busy_node(busy=1, retry_after="0") as (url, handler):
        result = _das("blob", "post", str(blob), "--node", url, "--json", "--encoder-workers", "1")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["encoded_by"] == "client" and status["encode_s"] > 0
    assert handler.content_types == [UPLOAD_MEDIA_TYPE] * 2  # posted again, as is, after the 429
    assert handler.posts[0] == handler.posts[1]
    upload = bytes_to_upload(handler.posts[0], DAConfig())
    assert upload.data == data
    encoded = validate_upload(upload, load_ckzg_backend(PRECOMPUTE_FOR_PROVING), DAConfig())
    assert encoded.data_root == upload.data_root


def test_das_blob_post_refuses_a_precompute_ckzg_has_not(tmp_path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"x")
    result = _das("blob", "post", str(blob), "--node", "http://127.0.0.1:9", "--precompute", "16")
    assert result.returncode == 2
    assert "precompute" in result.stderr and "0..15" in result.stderr


def test_das_blob_post_gives_up_after_its_busy_timeout_with_exit_1(tmp_path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"a sequencer's batch")
    with serve_busy_node(busy=100, retry_after="60") as (url, handler):
        result = _das("blob", "post", str(blob), "--node", url, "--busy-timeout", "5")
    assert result.returncode == 1, result.stderr  # a transient failure, not a usage error
    assert "too_many_requests" in result.stderr and "posting again" not in result.stderr
    assert len(handler.posts) == 1  # a 60 s Retry-After does not fit in 5 s: it did not wait


def test_the_altda_servers_payment_ttl_help_names_only_its_own_options() -> None:
    """`das altda serve --help` told operators to keep --payment-ttl above --busy-timeout, an option
    of `das blob post` that the Alt-DA server does not have."""
    serve = _das("altda", "serve", "--help")
    post = _das("blob", "post", "--help")
    assert serve.returncode == 0 and post.returncode == 0
    assert "--busy-timeout" not in serve.stdout
    assert "--payment-ttl" in serve.stdout and "outlast one post" in " ".join(serve.stdout.split())
    assert "keep it above --busy-timeout" in " ".join(post.stdout.split())
