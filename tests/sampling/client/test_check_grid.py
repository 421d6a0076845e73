"""`das light check` samples the 2D grid: cells drawn over all 2R rows of the served columns, fetched
on `/tessera/samples/2`, verified against the header, the confidence from the exact 2D bound, and
`--json` names the grid and the bound. Real custodians (libp2p hosts) in a trio thread."""

from __future__ import annotations

import pytest

from cli.main import main
from sampling.confidence import compute_confidence_2d, compute_samples_needed_2d
from tests.sampling.client.conftest import Mode
from tests.sampling.client.test_check import NetFactory, check_args, das_json


def test_a_check_draws_over_the_grid_and_reports_the_2d_bound(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net() as net:
        text_code = main(["light", "check", *check_args(net)])
        text, _ = capsys.readouterr()
        code, report, err = das_json(capsys, *check_args(net, "--confidence", "0.999999"))
        served = len(net.covered_without(set()))
        asked = [row for store in net.stores for row in store.grid_rows_asked]
    assert code == 0 and report["verdict"] == "available", err
    rows = len(net.blob.rows)
    assert text_code == 0 and f"grid        {2 * rows} rows ({rows} original + {rows} extended)" in text
    assert report["grid"] == {
        "rows": 2 * rows,
        "original_rows": rows,
        "extended_rows": rows,
        "columns": 128,
        "served_columns": served,
    }
    bound = report["bound"]
    assert isinstance(bound, dict) and bound["name"] == "2d"
    assert bound["min_withheld"] == (rows + 1) * (served - 63)
    assert bound["cells"] == 2 * rows * served
    needed = compute_samples_needed_2d(rows, 0.999999, served)
    assert report["needed"] == report["verified"] == needed
    assert report["confidence"] == compute_confidence_2d(rows, needed, served)
    assert asked and max(asked) < 2 * rows and any(row >= rows for row in asked), "extended rows asked"


def test_a_custodian_serving_a_bad_extension_is_caught_and_its_cells_fetched_elsewhere(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net() as net:
        liar = net.co_held_member()
        net.set_mode(liar, Mode.BAD_EXTENSION)
        for _ in range(4):  # the liar is one custodian among several: make sure it was asked
            code, report, _ = das_json(capsys, *check_args(net, "--confidence", "0.999999999"))
            assert code == 0 and report["verdict"] == "available"
            if report["invalid"]:
                break
    invalid = report["invalid"]
    assert isinstance(invalid, int) and invalid > 0
    abandoned = report["peers_abandoned"]
    assert isinstance(abandoned, dict) and abandoned == {net.peer(liar): "InvalidSamples"}
    assert report["verified"] == report["needed"] and report["missing"] == 0


def test_the_grid_needs_far_fewer_samples_than_the_original_rows() -> None:
    assert compute_samples_needed_2d(9, 0.9999) == 28  # 148 over the original rows alone
