"""The daemon's config file: the encoder pool is sized to the machine unless told otherwise, and the
admission bound has a default."""

from __future__ import annotations

import os
from pathlib import Path

from validator.daemon.config import load_config


def _write(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "registry.sqlite").touch()
    (tmp_path / "key.json").touch()
    config = tmp_path / "node.toml"
    config.write_text(
        'registry = "registry.sqlite"\nkeystore = "key.json"\ndata_dir = "node"\n'
        'password_env = "PW"\n' + extra
    )
    return config


def test_encoder_workers_default_to_one_per_core_and_the_queue_to_eight(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path))
    assert config.encoder_workers is None
    assert config.encoder_processes == max(1, os.cpu_count() or 1)
    assert config.max_queued_blobs == 8


def test_explicit_encoder_workers_and_queue_bound_are_kept(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "encoder_workers = 0\nmax_queued_blobs = 3\n"))
    assert config.encoder_processes == 0 and config.max_queued_blobs == 3
    assert load_config(_write(tmp_path, 'encoder_workers = "auto"\n')).encoder_workers is None


def test_retention_and_resource_bounds_are_read_and_checked(tmp_path: Path) -> None:
    import pytest  # noqa: PLC0415

    from validator.daemon.config import InvalidDaemonConfig  # noqa: PLC0415

    default = load_config(_write(tmp_path))
    assert (default.retention_epochs, default.min_free_disk_bytes) == (24, 512 * 1024 * 1024)
    config = load_config(
        _write(
            tmp_path,
            "retention_epochs = 336\nprune_interval_s = 5.0\nmin_free_disk_bytes = 0\n"
            "recent_extensions = 0\nmax_dispersing_blobs = 2\n",
        )
    )
    assert config.retention.window_epochs == 336 and config.retention.prune_interval_s == 5.0
    assert (config.min_free_disk_bytes, config.recent_extensions, config.max_dispersing_blobs) == (0, 0, 2)
    for bad, field in (
        ("retention_epochs = 0\n", "retention_epochs"),
        ("prune_interval_s = 0.0\n", "prune_interval_s"),
        ("min_free_disk_bytes = -1\n", "min_free_disk_bytes"),
        ('min_free_disk_bytes = "1G"\n', "min_free_disk_bytes"),
        ("max_dispersing_blobs = 0\n", "max_dispersing_blobs"),
    ):
        with pytest.raises(InvalidDaemonConfig) as refused:
            load_config(_write(tmp_path, bad))
        assert refused.value.field == field, bad
