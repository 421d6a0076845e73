"""`das validator settle` as an operator runs it: the promises a validator holds (in its store) are
paid by the embedded escrow of a `das validator genesis` registry once, however often it runs."""

from __future__ import annotations

import json
import random
from pathlib import Path

from da import CkzgBackend, compute_blob_header, compute_data_root
from tests.cli.conftest import das
from tests.validator.payments.keys import sequencer
from validator.daemon.payments import compute_default_payee
from validator.daemon.store import HeldPayment, NodeStore
from validator.devnet import Devnet
from validator.keystore import get_keystore_pubkey, read_keystore
from validator.payments.promise import PaymentPromise
from validator.payments.sqlite_escrow import DEFAULT_MIN_BILLED_BYTES, DEFAULT_PRICE_PER_BYTE, SqliteEscrow
from validator.types import Epoch, QuorumIndex


def test_settle_pays_the_held_promises_once(network: Path, tmp_path: Path, kzg: CkzgBackend) -> None:
    config = tmp_path / "node-0.toml"
    config.write_text(
        f'registry = "{network / "registry.sqlite"}"\nkeystore = "{network / "keys" / "validator-0.json"}"\n'
        f'password_env = "TESSERA_TEST_PW"\ndata_dir = "{tmp_path / "node-0"}"\n'
    )
    payee = compute_default_payee(get_keystore_pubkey(read_keystore(network / "keys" / "validator-0.json")))
    alice, bob = sequencer(1), sequencer(2)
    with SqliteEscrow(network / "registry.sqlite") as escrow:
        domain = escrow.payment_domain()
        escrow.account(alice.address).deposit(10**12)
        escrow.account(bob.address).deposit(10**12)
    store = NodeStore(tmp_path / "node-0" / "node.sqlite")
    owed = {}
    for number, who in enumerate((alice, bob)):
        data = random.Random(number).randbytes(100)
        header = compute_blob_header(data, kzg)
        root = compute_data_root(header)
        cost = DEFAULT_MIN_BILLED_BYTES * DEFAULT_PRICE_PER_BYTE * (number + 1)
        signed = who.sign(
            domain, PaymentPromise(who.address, payee, root, DEFAULT_MIN_BILLED_BYTES, cost, 2**40)
        )
        store.add_blob(data, header, root, Epoch(0), QuorumIndex(0), 6, payment=HeldPayment(signed, 0))
        owed[who.address] = cost
    store.close()

    first = das("validator", "settle", "--config", str(config), "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["payee"] == payee
    assert (report["promises"], report["paid"]) == (2, str(sum(owed.values())))
    assert report["accounts"] == sorted(owed)
    again = das("validator", "settle", "--config", str(config), "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["paid"] == "0"
    with SqliteEscrow(network / "registry.sqlite") as escrow:
        for account, amount in owed.items():
            assert escrow.settled(account, payee) == amount
            assert escrow.escrow_of(account).balance == 10**12 - amount
    plain = das("validator", "settle", "--config", str(config), cwd=tmp_path)
    assert plain.returncode == 0 and "0 promise(s)" in plain.stdout, plain.stdout + plain.stderr


def test_settle_reads_a_devnet_nodes_own_config(tmp_path: Path) -> None:
    """`das validator settle --config .devnet/node-N.toml` as the README's operator types it: the
    devnet's node config is a valid config (it said `encoder_workers = ENCODERS`, a placeholder that
    only `start_node` filled in, and settle exited 2 with "Invalid value")."""
    Devnet(tmp_path).create(2)
    settled = das("validator", "settle", "--config", str(tmp_path / "node-0.toml"), "--json", cwd=tmp_path)
    assert settled.returncode == 0, settled.stderr
    report = json.loads(settled.stdout)
    assert report["promises"] == 0 and report["paid"] == "0" and report["payee"].startswith("0x")
