"""`das sequencer deposit | withdraw | balance` as a user runs them, on the escrow of a real genesis
registry file: what they print (text and JSON), what they change, and what they refuse."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import PASSWORD, das
from validator.registry.chain.accounts import create_account_keystore

SEQUENCER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ACCOUNT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture
def sequencer(tmp_path: Path) -> Path:
    keystore = tmp_path / "sequencer.json"
    create_account_keystore(keystore, PASSWORD, private_key=SEQUENCER_KEY, light_kdf=True)
    (tmp_path / "password.txt").write_text(PASSWORD)
    (tmp_path / "wrong.txt").write_text("not the password")
    return keystore


@pytest.fixture
def registry(network: Path, tmp_path: Path) -> Path:
    """A copy of the module's genesis registry, so each test starts from an empty escrow."""
    copy = tmp_path / "registry.sqlite"
    with sqlite3.connect(network / "registry.sqlite") as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy


def _run(
    command: str, *args: str, registry: Path, keystore: Path, unlock: str = "password.txt"
) -> tuple[int, str, str]:
    result = das(
        "sequencer", command, *args, "--registry", str(registry), "--eth-keystore", str(keystore),
        "--eth-password-file", str(keystore.parent / unlock), cwd=keystore.parent,
    )  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def _balance(registry: Path, keystore: Path) -> dict[str, object]:
    code, out, err = _run("balance", "--json", registry=registry, keystore=keystore)
    assert code == 0, err
    return dict(json.loads(out))


def test_deposit_request_and_balance_in_json(registry: Path, sequencer: Path) -> None:
    code, out, err = _run("deposit", "0.5ether", "--json", registry=registry, keystore=sequencer)
    assert code == 0, err
    report = json.loads(out)
    assert report == {
        "action": "deposit",
        "account": ACCOUNT,
        "backend": "sqlite",
        "amount": str(5 * 10**17),
        "balance": str(5 * 10**17),
        "pending_withdrawal": "0",
        "withdrawable_at": None,
        "covered": str(5 * 10**17),
        "withdrawal_delay_s": report["withdrawal_delay_s"],
        "price_per_byte": report["price_per_byte"],
        "min_billed_bytes": report["min_billed_bytes"],
        "transaction": None,
    }
    assert report["withdrawal_delay_s"] > 0 and int(report["price_per_byte"]) > 0
    code, out, err = _run("withdraw", "--request", "100gwei", "--json", registry=registry, keystore=sequencer)
    assert code == 0, err
    requested = json.loads(out)
    assert requested["action"] == "request_withdrawal" and requested["pending_withdrawal"] == str(10**11)
    assert requested["covered"] == str(5 * 10**17 - 10**11) and requested["withdrawable_at"] is not None
    assert _balance(registry, sequencer) == {**requested, "action": "balance", "amount": None}


def test_balance_reads_the_keystore_address_without_its_password(registry: Path, sequencer: Path) -> None:
    code, out, err = _run("balance", registry=registry, keystore=sequencer, unlock="missing.txt")
    assert code == 0, err
    assert f"account     {ACCOUNT} (sqlite escrow)" in out and "balance     0 wei" in out
    assert "s between asking to withdraw and withdrawing" in out


def test_a_withdrawal_before_its_delay_exits_1_saying_when_and_changes_nothing(
    registry: Path, sequencer: Path
) -> None:
    assert _run("deposit", "1000", registry=registry, keystore=sequencer)[0] == 0
    code, _, err = _run("withdraw", registry=registry, keystore=sequencer)
    assert code == 1 and "nothing to withdraw" in err
    assert _run("withdraw", "--request", "400", registry=registry, keystore=sequencer)[0] == 0
    code, _, err = _run("withdraw", registry=registry, keystore=sequencer)
    assert code == 1 and "not yet: the withdrawal may go at" in err
    after = _balance(registry, sequencer)
    assert (after["balance"], after["pending_withdrawal"]) == ("1000", "400")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("deposit", "-5"), "an amount must be more than 0 wei"),
        (("deposit", "0"), "an amount must be more than 0 wei"),
        (("deposit", "1.5"), "is not a whole number of wei"),
        (("deposit", "lots"), "an amount is wei, or a number with gwei or ether"),
        (("withdraw", "--request=-1gwei"), "an amount must be more than 0 wei"),
    ],
)
def test_a_bad_amount_is_a_usage_error_and_changes_nothing(
    registry: Path, sequencer: Path, args: tuple[str, ...], expected: str
) -> None:
    code, _, err = _run(*args, registry=registry, keystore=sequencer)
    assert code == 2 and expected in err, err
    assert _balance(registry, sequencer)["balance"] == "0"


def test_more_than_the_balance_cannot_be_set_aside(registry: Path, sequencer: Path) -> None:
    assert _run("deposit", "1000", registry=registry, keystore=sequencer)[0] == 0
    code, _, err = _run("withdraw", "--request", "1001", registry=registry, keystore=sequencer)
    assert code == 2 and "cannot ask to withdraw 1001: the balance is 1000" in err, err
    assert _balance(registry, sequencer)["pending_withdrawal"] == "0"


def test_a_wrong_password_or_a_missing_keystore_deposits_nothing(registry: Path, sequencer: Path) -> None:
    code, _, err = _run("deposit", "1000", registry=registry, keystore=sequencer, unlock="wrong.txt")
    assert code == 2 and "wrong password" in err and "not the password" not in err, err
    code, _, err = _run("deposit", "1000", registry=registry, keystore=sequencer.with_name("none.json"))
    assert code == 2 and "keystore file not found" in err, err
    assert _balance(registry, sequencer)["balance"] == "0"


def test_deposit_without_a_keystore_is_a_usage_error(registry: Path, sequencer: Path) -> None:
    result = das("sequencer", "deposit", "1000", "--registry", str(registry), cwd=sequencer.parent)
    assert result.returncode == 2 and "--eth-keystore" in result.stderr


def test_the_payments_address_goes_with_a_chain_only(registry: Path, sequencer: Path) -> None:
    code, _, err = _run(
        "deposit", "1000", "--payments-address", ACCOUNT, registry=registry, keystore=sequencer
    )
    assert code == 2 and "--payments-address goes with --rpc" in err, err


def test_help_explains_the_withdrawal_delay() -> None:
    result = das("sequencer", "withdraw", "--help", cwd=Path.cwd())
    assert result.returncode == 0 and "withdrawal delay" in result.stdout
