"""The sequencer's durable payment counters on a real SQLite file: they only go up, survive a crash
right after an advance, and never hand the same cumulative to two processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from validator.payments.counters import CounterKey, CounterStoreError, PromiseCounters, default_counters_path

ACCOUNT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
NODE = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
KEY = CounterKey(ACCOUNT, NODE, 31337, CONTRACT)


def test_a_counter_goes_up_by_each_cost_and_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with PromiseCounters(path) as counters:
        assert counters.get(KEY) == 0
        first = counters.advance(KEY, 100, data_root=b"\x01" * 32)
        second = counters.advance(KEY, 250)
    assert (first.previous, first.cumulative, first.increment) == (0, 100, 100)
    assert (second.previous, second.cumulative) == (100, 350)
    with PromiseCounters(path) as counters:
        assert counters.get(KEY) == 350


def test_a_counter_starts_from_what_the_node_holds_and_never_goes_down(tmp_path: Path) -> None:
    with PromiseCounters(tmp_path / "c.sqlite") as counters:
        counters.advance(KEY, 100)
        assert counters.advance(KEY, 10, floor=1_000).cumulative == 1_010  # the node held more: resync up
        assert counters.advance(KEY, 10, floor=5).cumulative == 1_020  # a lower floor is ignored


def test_each_node_chain_and_contract_has_its_own_counter(tmp_path: Path) -> None:
    others = [
        CounterKey(ACCOUNT, CONTRACT, 31337, CONTRACT),
        CounterKey(ACCOUNT, NODE, 1, CONTRACT),
        CounterKey(ACCOUNT, NODE, 31337, NODE),
        CounterKey(NODE, NODE, 31337, CONTRACT),
    ]
    with PromiseCounters(tmp_path / "c.sqlite") as counters:
        counters.advance(KEY, 7)
        for key in others:
            assert counters.advance(key, 3).cumulative == 3
        assert counters.get(KEY) == 7


@pytest.mark.parametrize(("increment", "floor"), [(0, 0), (-5, 0), (1, -1), (2**256, 0)])
def test_a_bad_advance_is_refused_and_changes_nothing(tmp_path: Path, increment: int, floor: int) -> None:
    with PromiseCounters(tmp_path / "c.sqlite") as counters:
        counters.advance(KEY, 9)
        with pytest.raises(CounterStoreError):
            counters.advance(KEY, increment, floor=floor)
        assert counters.get(KEY) == 9


def test_an_unwritable_place_is_a_typed_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CounterStoreError, match="cannot open the payment counters"):
        PromiseCounters(blocker / "c.sqlite")


def test_the_default_file_sits_beside_the_keystore(tmp_path: Path) -> None:
    assert default_counters_path(tmp_path / "seq.json") == tmp_path / "seq.json.counters.sqlite"


_ADVANCER = """
import json, os, signal, sys
from pathlib import Path
from validator.payments.counters import CounterKey, PromiseCounters
path, count, crash = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "crash"
key = CounterKey(*json.loads(sys.argv[4]))
counters = PromiseCounters(path)
values = []
for _ in range(count):
    values.append(counters.advance(key, 100).cumulative)
    if crash:  # the promise would be signed and sent now: die before it leaves
        print(json.dumps(values), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
print(json.dumps(values), flush=True)
"""


def _advancer(path: Path, count: int, crash: bool) -> subprocess.Popen[str]:
    key = json.dumps([KEY.account, KEY.node, KEY.chain_id, KEY.contract])
    mode = "crash" if crash else "run"
    return subprocess.Popen(
        [sys.executable, "-c", _ADVANCER, str(path), str(count), mode, key],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )


def test_a_process_killed_right_after_an_advance_leaves_the_advance_on_disk(tmp_path: Path) -> None:
    """A crash between the advance and the post: the next promise carries the next value, never the
    one the lost promise carried."""
    path = tmp_path / "c.sqlite"
    with PromiseCounters(path) as counters:
        counters.advance(KEY, 100)
    process = _advancer(path, 1, crash=True)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert json.loads(out) == [200]
    with PromiseCounters(path) as counters:
        assert counters.advance(KEY, 100).cumulative == 300


def test_two_processes_advancing_the_same_counter_never_share_a_value(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    PromiseCounters(path).close()
    processes = [_advancer(path, 40, crash=False) for _ in range(2)]
    values = [json.loads(process.communicate(timeout=120)[0]) for process in processes]
    assert all(process.returncode == 0 for process in processes)
    every = values[0] + values[1]
    assert len(set(every)) == 80
    assert sorted(every) == [100 * (n + 1) for n in range(80)]
    with PromiseCounters(path) as counters:
        assert counters.get(KEY) == 8_000
