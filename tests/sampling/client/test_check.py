"""`das light check` as a user runs it (its `main()`), against real custodians in a trio thread."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cli.main import main
from da.types import ColumnIndex
from tests.sampling.client.conftest import LightNet, Mode, ThreadedNet
from validator.types import ValidatorIndex

NetFactory = Callable[..., ThreadedNet]


def das_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object], str]:
    code = main(["light", "check", *argv, "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


def check_args(net: LightNet, *extra: str) -> list[str]:
    return [net.root_hex, "--registry", str(net.registry_path), "--cert", str(net.cert_file()), *extra]


def test_available_blob_reaches_the_target_and_exits_0(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net() as net:
        code = main(["light", "check", *check_args(net)])
        out, _ = capsys.readouterr()
        json_code, report, _ = das_json(capsys, *check_args(net, "--confidence", "0.999999"))
    assert code == 0, out
    assert out.startswith(f"AVAILABLE: {net.root_hex}\n")
    confidence = float(out.split("confidence  ")[1].split()[0])
    assert confidence >= 0.9999
    assert "missing 0" in out and "verified: 48 of 64 slots signed (threshold 43)" in out
    assert json_code == 0 and report["verdict"] == "available" and report["available"] is True
    assert isinstance(report["confidence"], float) and report["confidence"] >= 0.999999
    assert report["verified"] == report["needed"] == report["tried"] and report["missing"] == 0
    assert report["kzg_batches"] == report["rounds"], "one batched KZG check per round"
    assert report["peers_abandoned"] == {}


def test_without_a_certificate_epoch_and_quorum_name_the_custodians(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net() as net:
        args = [net.root_hex, "--registry", str(net.registry_path), "--epoch", "0", "--quorum", "0"]
        code, report, _ = das_json(capsys, *args)
        peer_args = [*args, "--peer", net.services[3].listen_addrs[0]]
        peer_code, from_peer, _ = das_json(capsys, *peer_args)
    assert code == 0 and report["certificate"] == "none (epoch and quorum given)"
    assert str(report["header_source"]).startswith("custodian ")
    assert peer_code == 0 and from_peer["header_source"] == f"peer {net.peer(ValidatorIndex(3))}"


def test_withheld_columns_make_it_unavailable_with_the_confidence_reached(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net("devnet", 8, 1) as net:
        emptied: set[ValidatorIndex] = set()
        for member in net.quorum.members:  # empty custodians until more than half the columns are gone
            if len(net.covered_without(emptied)) < 64:
                break
            emptied.add(member)
            net.set_mode(member, Mode.EMPTY)
        assert len(net.covered_without(emptied)) < 64 < len(net.covered_without(set()))
        code = main(["light", "check", *check_args(net)])
        out, _ = capsys.readouterr()
        json_code, report, _ = das_json(capsys, *check_args(net))
    assert code == 1 and json_code == 1
    assert out.startswith(f"UNAVAILABLE: {net.root_hex}\n")
    assert "could not be obtained from any custodian" in out
    assert report["verdict"] == "unavailable" and report["missing"] > 0
    reached = report["confidence"]
    assert isinstance(reached, float) and 0 < reached < 0.9999, "the confidence reached is reported"
    assert report["verified"] > 0


def test_corrupted_cells_are_rejected_and_fetched_from_another_custodian(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net() as net:
        liar = net.co_held_member()
        net.set_mode(liar, Mode.CORRUPT)
        for _ in range(3):  # the liar is about a tenth of the first choices: make sure it was asked
            code, report, _ = das_json(capsys, *check_args(net, "--confidence", "0.999999999"))
            assert code == 0 and report["verdict"] == "available"
            if report["invalid"]:
                break
    assert report["invalid"] > 0 and report["failed"] >= report["invalid"]
    abandoned = report["peers_abandoned"]
    assert isinstance(abandoned, dict) and abandoned[net.peer(liar)] == "InvalidSamples"
    assert list(abandoned.values()).count("InvalidSamples") == 1, "only the liar served bad cells"
    assert report["verified"] == report["needed"] and report["missing"] == 0
    assert report["kzg_batches"] > report["rounds"], "a failed round batch is re-checked per peer"


def test_a_peer_that_never_answers_is_abandoned_after_the_timeout(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net() as net:
        silent = net.co_held_member()
        net.set_mode(silent, Mode.SILENT)
        for _ in range(3):  # make sure the silent custodian was asked (it is about a tenth of the choices)
            started = time.monotonic()
            code, report, _ = das_json(
                capsys, *check_args(net, "--timeout", "1", "--confidence", "0.999999999")
            )
            elapsed = time.monotonic() - started
            assert code == 0 and report["verdict"] == "available"
            if net.peer(silent) in report["peers_abandoned"]:
                break
    # Typed: abandoned for its timeout (not for an error), after waiting at least the timeout.
    assert report["peers_abandoned"][net.peer(silent)] == "PeerTimeout"
    assert elapsed >= 1.0, f"took {elapsed:.1f} s"


def test_usage_and_network_errors_exit_2(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with threaded_net() as net:
        registry = str(net.registry_path)
        assert main(["light", "check", net.root_hex, "--registry", registry]) == 2
        assert "give --cert FILE, --epoch E --quorum Q, or --node URL" in capsys.readouterr().err
        assert main(["light", "check", net.root_hex, "--registry", registry, "--epoch", "0"]) == 2
        assert "--epoch and --quorum go together" in capsys.readouterr().err
        missing = [
            "light",
            "check",
            net.root_hex,
            "--registry",
            str(tmp_path / "nope.sqlite"),
            "--epoch",
            "0",
        ]
        assert main([*missing, "--quorum", "0"]) == 2
        assert "no registry at" in capsys.readouterr().err
        other_root = "0x" + "ab" * 32
        assert (
            main(["light", "check", other_root, "--registry", registry, "--cert", str(net.cert_file())]) == 2
        )
        assert "certificate rejected: it certifies" in capsys.readouterr().err
        wrong = bytearray(net.certificate)
        wrong[100] ^= 1  # another signature
        (tmp_path / "bad.ssz").write_bytes(bytes(wrong))
        bad = ["light", "check", net.root_hex, "--registry", registry, "--cert", str(tmp_path / "bad.ssz")]
        assert main(bad) == 2
        assert "certificate rejected" in capsys.readouterr().err
        unknown = ["light", "check", other_root, "--registry", registry, "--epoch", "0", "--quorum", "0"]
        assert main([*unknown, "--timeout", "1"]) == 2
        assert "no header for" in capsys.readouterr().err
        assert main([*unknown[:-4], "--epoch", "0", "--quorum", "7"]) == 2
        assert "there is no quorum 7" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["light", "check", "0x1234", "--registry", registry])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        main(["light", "check", other_root, "--registry", registry, "--epoch", "0", "--confidence", "1"])
    assert exited.value.code == 2


def test_cells_whose_custodians_fail_are_asked_from_the_other_members(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net("devnet", 8, 1) as net:
        members = list(net.quorum.members)
        aggregator, emptied = members[0], set(members[1:4])
        for member in emptied:
            net.set_mode(member, Mode.EMPTY)
        net.stores[aggregator].blobs[net.data_root] = (net.blob, frozenset(map(ColumnIndex, range(128))))
        orphaned = set().union(*net.custody.values()) - net.covered_without(emptied)
        assert orphaned, "some served columns are held only by the emptied members"
        for _ in range(3):  # make sure a cell of an orphaned column was drawn
            # A generous timeout: this is about falling back to other members, and on a loaded
            # machine (the devnet suite beside it) the only full replica must not be abandoned as slow.
            # Every member may be tried for a cell (--attempts 8): three of a column's custodians can
            # be emptied ones, and the member that still holds it must get its turn.
            args = check_args(net, "--confidence", "0.999999999", "--timeout", "30", "--attempts", "8")
            code, report, _ = das_json(capsys, *args)
            ok = code == 0 and report["verdict"] == "available" and report["missing"] == 0
            assert ok, json.dumps(report, sort_keys=True)
            if report["failed"]:
                break
    assert report["failed"] > 0 and report["invalid"] == 0
