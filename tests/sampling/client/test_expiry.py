"""`das light check` on a blob whose availability window has ended (specs/consensus.md, The
availability window): reported **unknown** with exit 3, never sampled and never "unavailable".

The registry is a real SQLite file whose genesis lies `age_epochs` epochs in the past, so its clock
reads that epoch now while the blob's certificate stays in epoch 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from cli.main import main
from sampling.client.defaults import DEFAULT_WINDOW_EPOCHS
from tests.sampling.client.conftest import LightNet, ThreadedNet
from validator.daemon.retention import DEFAULT_RETENTION_EPOCHS

NetFactory = Callable[..., ThreadedNet]


def check_args(net: LightNet, *extra: str) -> list[str]:
    return [net.root_hex, "--registry", str(net.registry_path), "--cert", str(net.cert_file()), *extra]


def test_the_light_window_default_matches_the_validators_retention_default() -> None:
    assert DEFAULT_WINDOW_EPOCHS == DEFAULT_RETENTION_EPOCHS


def test_a_blob_past_its_window_is_unknown_exit_3_and_not_sampled(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    window = DEFAULT_WINDOW_EPOCHS
    with threaded_net(age_epochs=window + 1.5) as net:  # current epoch = 0 + window + 1
        code = main(["light", "check", *check_args(net)])
        out, _ = capsys.readouterr()
        json_code = main(["light", "check", *check_args(net), "--json"])
        json_out, _ = capsys.readouterr()
        no_cert = main(
            [
                "light",
                "check",
                net.root_hex,
                "--registry",
                str(net.registry_path),
                "--epoch",
                "0",
                "--quorum",
                "0",
                "--json",
            ]
        )
        no_cert_out, _ = capsys.readouterr()
        served = sum(store.calls for store in net.stores)
    assert code == 3, out
    assert out.startswith(f"UNKNOWN: {net.root_hex}\n"), out
    assert f"epoch 0 + window {window} < current epoch {window + 1}" in out
    assert "UNAVAILABLE" not in out
    report = json.loads(json_out)
    assert json_code == 3
    assert report["verdict"] == "unknown" and report["available"] is None
    assert report["epoch"] == 0 and report["current_epoch"] == window + 1
    assert report["window_epochs"] == window and report["expired_after_epoch"] == window
    assert report["data_root"] == net.root_hex
    assert no_cert == 3 and json.loads(no_cert_out)["verdict"] == "unknown", "--epoch/--quorum expire too"
    assert served == 0, "an expired blob is not sampled"


def test_a_blob_on_the_last_epoch_of_its_window_is_still_sampled(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    window = DEFAULT_WINDOW_EPOCHS
    with threaded_net(age_epochs=window + 0.5) as net:  # current epoch = 0 + window: still served
        code = main(["light", "check", *check_args(net), "--json"])
        out, _ = capsys.readouterr()
    assert code == 0, out
    report = json.loads(out)
    assert report["verdict"] == "available" and report["verified"] == report["needed"] > 0


def test_a_wider_window_epochs_samples_what_the_default_calls_expired(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net(age_epochs=DEFAULT_WINDOW_EPOCHS + 1.5) as net:
        wide = main(["light", "check", *check_args(net, "--window-epochs", str(DEFAULT_WINDOW_EPOCHS + 1))])
        wide_out, _ = capsys.readouterr()
        narrow = main(["light", "check", *check_args(net, "--window-epochs", "0")])
        narrow_out, _ = capsys.readouterr()
    assert wide == 0 and wide_out.startswith("AVAILABLE"), wide_out
    assert narrow == 3 and narrow_out.startswith("UNKNOWN"), narrow_out
