"""`das blob post --eth-keystore` as a sequencer runs it (a real subprocess) against a node that takes
payments (`tests.paying_node`: a real HTTP server running the real promise check): what is signed,
what is kept on disk, what a refusal says, and that a crash mid-post never reuses a cumulative."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import PASSWORD
from tests.paying_node import CONTRACT, PayingNodeState, serve_paying_node
from validator.payments.counters import CounterKey, PromiseCounters
from validator.payments.promise import PaymentDomain, decode_payment_header
from validator.registry.chain.accounts import create_account_keystore

SEQUENCER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # anvil dev account 1
ACCOUNT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BLOB = b"a sequencer's batch, paid for" * 100  # 2,900 bytes: billed as they are (minimum 1,024)
COST = 3 * len(BLOB)


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    path = tmp_path / "sequencer.json"
    create_account_keystore(path, PASSWORD, private_key=SEQUENCER_KEY, light_kdf=True)
    (tmp_path / "password.txt").write_text(PASSWORD)
    (tmp_path / "blob.bin").write_bytes(BLOB)
    return path


def _post_args(url: str, keystore: Path, *extra: str) -> list[str]:
    return [
        "blob", "post", str(keystore.parent / "blob.bin"), "--node", url, "--json", "--encoder-workers", "1",
        "--eth-keystore", str(keystore), "--eth-password-file", str(keystore.parent / "password.txt"), *extra,
    ]  # fmt: skip


def _das(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True, text=True, timeout=180, check=False, cwd=cwd, env=_env(),
    )  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.getcwd()}


def _counter(keystore: Path, state: PayingNodeState) -> int:
    key = CounterKey(ACCOUNT, state.payee, 31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
    with PromiseCounters(keystore.with_name("sequencer.json.counters.sqlite")) as counters:
        return counters.get(key)


def test_a_paid_post_carries_a_promise_the_node_takes_and_the_next_pays_on_top(keystore: Path) -> None:
    state = PayingNodeState(covered={ACCOUNT: 10**18})
    with serve_paying_node(state) as url:
        first = _das(_post_args(url, keystore), keystore.parent)
        second = _das(_post_args(url, keystore, "--payment-ttl", "60"), keystore.parent)
        human = _das([arg for arg in _post_args(url, keystore) if arg != "--json"], keystore.parent)
    assert first.returncode == 0, first.stderr
    payment = json.loads(first.stdout)["payment"]
    assert payment["account"] == ACCOUNT and payment["node"] == state.payee
    assert payment["cumulative"] == str(COST) and payment["increment"] == str(COST)
    assert payment["billed_bytes"] == len(BLOB) and payment["resyncs"] == 0
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["payment"]["cumulative"] == str(2 * COST)
    assert f"paid        {COST} wei to {state.payee} from {ACCOUNT} (cumulative {3 * COST}" in human.stdout
    assert state.held[ACCOUNT] == 3 * COST == _counter(keystore, state)
    first_promise, second_promise = state.accepted[0].promise, state.accepted[1].promise
    assert second_promise.expiry < first_promise.expiry  # --payment-ttl 60 against the default 600


def test_a_paid_raw_post_names_the_data_root_the_node_computes(keystore: Path) -> None:
    state = PayingNodeState(covered={ACCOUNT: 10**18})
    with serve_paying_node(state) as url:
        result = _das(_post_args(url, keystore, "--raw"), keystore.parent)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["payment"]["data_root"] == status["data_root"]
    assert state.accepted[0].promise.data_root.hex() == status["data_root"][2:]


def test_a_node_with_payments_off_is_posted_to_with_no_promise(keystore: Path) -> None:
    state = PayingNodeState(enabled=False)
    with serve_paying_node(state) as url:
        result = _das(_post_args(url, keystore), keystore.parent)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["payment"] is None
    assert state.headers == [None]


def test_without_a_keystore_a_paying_node_refusal_says_what_to_do(keystore: Path) -> None:
    state = PayingNodeState()
    with serve_paying_node(state) as url:
        result = _das(["blob", "post", str(keystore.parent / "blob.bin"), "--node", url], keystore.parent)
    assert result.returncode == 2
    assert "payment_required" in result.stderr and "post with --eth-keystore" in result.stderr


def test_a_short_escrow_is_refused_naming_what_is_missing_and_costs_nothing(keystore: Path) -> None:
    state = PayingNodeState(covered={ACCOUNT: COST - 1})
    with serve_paying_node(state) as url:
        refused = _das(_post_args(url, keystore), keystore.parent)
        assert refused.returncode == 2
        assert "insufficient_escrow" in refused.stderr and f"covered={COST - 1}" in refused.stderr
        assert f"outstanding={COST}" in refused.stderr and "das sequencer deposit" in refused.stderr
        assert _counter(keystore, state) == 0  # refused outright: the value was given back
        state.covered[ACCOUNT] = COST
        paid = _das(_post_args(url, keystore), keystore.parent)
    assert paid.returncode == 0, paid.stderr
    assert json.loads(paid.stdout)["payment"]["cumulative"] == str(COST)  # not 2 x COST


def test_a_post_killed_mid_send_is_paid_on_top_by_the_next_run(keystore: Path) -> None:
    """The crash of the issue: the counter was on disk before the promise left; the next run signs
    the next value (never the lost promise's), and the node takes it, the lost blob's cost included."""
    state = PayingNodeState(covered={ACCOUNT: 10**18})
    state.stall.set()
    with serve_paying_node(state) as url:
        client = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *_post_args(url, keystore)],
            cwd=keystore.parent, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert state.stalled.wait(timeout=120), "the post never reached the node"
            assert _counter(keystore, state) == COST  # on disk before the promise was sent
            client.send_signal(signal.SIGKILL)
            assert client.wait(timeout=30) == -signal.SIGKILL
        finally:
            if client.poll() is None:
                client.kill()
        state.stall.clear()
        again = _das(_post_args(url, keystore), keystore.parent)
    assert again.returncode == 0, again.stderr
    payment = json.loads(again.stdout)["payment"]
    assert payment["cumulative"] == str(2 * COST) and payment["increment"] == str(2 * COST)
    assert [signed.promise.cumulative for signed in state.accepted] == [2 * COST]


def test_a_node_holding_more_than_the_counter_knows_is_paid_from_there(keystore: Path) -> None:
    """Another host paid from this account too (the race made certain: the node's terms say 0)."""
    state = PayingNodeState(covered={ACCOUNT: 10**18}, held={ACCOUNT: 5_000}, stale_held=1)
    with serve_paying_node(state) as url:
        result = _das(_post_args(url, keystore), keystore.parent)
    assert result.returncode == 0, result.stderr
    payment = json.loads(result.stdout)["payment"]
    assert payment["resyncs"] == 1 and payment["cumulative"] == str(5_000 + COST)
    assert payment["increment"] == str(COST)
    assert decode_payment_header(state.headers[0] or "").promise.cumulative == COST  # refused: replayed


def test_the_same_promise_goes_again_after_a_429(keystore: Path) -> None:
    state = PayingNodeState(covered={ACCOUNT: 10**18}, busy=1)
    with serve_paying_node(state) as url:
        result = _das(_post_args(url, keystore), keystore.parent)
    assert result.returncode == 0, result.stderr
    assert len(state.headers) == 2 and state.headers[0] == state.headers[1] is not None
    assert state.held[ACCOUNT] == COST


def test_two_sequencer_processes_posting_to_one_node_never_share_a_cumulative(keystore: Path) -> None:
    state = PayingNodeState(covered={ACCOUNT: 10**18})
    with serve_paying_node(state) as url:
        for _ in range(2):
            processes = [
                subprocess.Popen(
                    [sys.executable, "-m", "cli.main", *_post_args(url, keystore)],
                    cwd=keystore.parent,
                    env=_env(),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            for process in processes:
                _, err = process.communicate(timeout=180)
                assert process.returncode == 0, err
    sent = [decode_payment_header(header or "").promise.cumulative for header in state.headers]
    assert len(sent) == len(set(sent))  # never the same cumulative twice, refused ones included
    taken = [signed.promise.cumulative for signed in state.accepted]
    assert len(taken) == 4 and taken == sorted(taken)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"--eth-keystore": "missing.json"}, "keystore file not found"),
        ({"--eth-password-file": "wrong.txt"}, "wrong password"),
    ],
)
def test_a_bad_account_is_refused_before_anything_is_posted(
    keystore: Path, change: dict[str, str], expected: str
) -> None:
    (keystore.parent / "wrong.txt").write_text("not the password")
    state = PayingNodeState(covered={ACCOUNT: 10**18})
    args = _post_args("URL", keystore)
    for option, value in change.items():
        args[args.index(option) + 1] = str(keystore.parent / value)
    with serve_paying_node(state) as url:
        args[args.index("URL")] = url
        result = _das(args, keystore.parent)
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "not the password" not in result.stderr
    assert state.headers == []


def test_a_payment_ttl_below_one_second_is_a_usage_error(keystore: Path) -> None:
    result = _das(_post_args("http://127.0.0.1:9", keystore, "--payment-ttl", "0"), keystore.parent)
    assert result.returncode == 2 and "--payment-ttl" in result.stderr


@pytest.mark.parametrize("chain_id", [31337, 1])
def test_beside_a_devnet_its_demo_account_pays_a_devnet_node_only(keystore: Path, chain_id: int) -> None:
    devnet = keystore.parent / ".devnet"
    (devnet / "keys").mkdir(parents=True)
    keystore.rename(devnet / "keys" / "sequencer.json")
    (keystore.parent / "password.txt").rename(devnet / "password.txt")
    state = PayingNodeState(covered={ACCOUNT: 10**18}, domain=PaymentDomain(chain_id, CONTRACT))
    with serve_paying_node(state) as url:
        args = [
            "blob",
            "post",
            str(keystore.parent / "blob.bin"),
            "--node",
            url,
            "--json",
            "--encoder-workers",
            "1",
        ]
        result = _das(args, keystore.parent)
    if chain_id == 1:  # not the devnet's chain: its throwaway key never pays there
        assert result.returncode == 2 and "payment_required" in result.stderr, result.stderr
        assert state.accepted == []
        return
    assert result.returncode == 0, result.stderr
    assert f"paying with the devnet's demo account {ACCOUNT} (.devnet/keys/sequencer.json)" in result.stderr
    assert json.loads(result.stdout)["payment"]["cumulative"] == str(COST)
    assert (devnet / "keys" / "sequencer.json.counters.sqlite").is_file()


def test_the_demo_account_paths_are_the_devnets() -> None:
    from cli.paying import DEMO_KEYSTORE, DEMO_PASSWORD_FILE  # noqa: PLC0415
    from validator.devnet import DEFAULT_DIR, PASSWORD_FILE, SEQUENCER_KEYSTORE  # noqa: PLC0415

    assert (DEMO_KEYSTORE, DEMO_PASSWORD_FILE) == (
        DEFAULT_DIR / SEQUENCER_KEYSTORE,
        DEFAULT_DIR / PASSWORD_FILE,
    )
