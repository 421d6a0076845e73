"""The one genesis builder: keys that decrypt, a registry that stakes and ballots every validator."""

from __future__ import annotations

from pathlib import Path

import pytest

from validator.devnet import LIGHT_SCRYPT
from validator.errors import RegistryError
from validator.keystore import decrypt_keystore, read_keystore
from validator.quorums import compute_quorums
from validator.registry.genesis import GenesisSpec, create_genesis, get_keystore_path
from validator.registry.sqlite import SqliteRegistry
from validator.types import Epoch

PASSWORD = "genesis test password"  # noqa: S105 (a test password)


def test_genesis_stakes_and_ballots_every_validator(tmp_path: Path) -> None:
    spec = GenesisSpec(validators=4, password=PASSWORD, slots=2, kdf_params=LIGHT_SCRYPT)
    progress: list[tuple[int, int]] = []
    registry_path = create_genesis(tmp_path, spec, lambda done, total: progress.append((done, total)))
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with SqliteRegistry(registry_path) as registry:
        context = registry.get_epoch_context(Epoch(0))
        assert len(context.validators) == len(context.ballots) == 4
        assert {record.stake for record in context.validators} == {2 * registry.preset.STAKE_PER_SLOT}
        (quorum,) = compute_quorums(context, registry.preset)  # ballots verify
        assert len(quorum.slots) == 8
        for number, record in enumerate(context.validators):
            key = decrypt_keystore(read_keystore(get_keystore_path(tmp_path, number)), PASSWORD)
            assert key.pubkey == record.pubkey


def test_genesis_never_overwrites_and_names_bad_fields(tmp_path: Path) -> None:
    create_genesis(tmp_path, GenesisSpec(validators=1, password=PASSWORD, kdf_params=LIGHT_SCRYPT))
    with pytest.raises(RegistryError, match="already exists"):
        create_genesis(tmp_path, GenesisSpec(validators=1, password=PASSWORD, kdf_params=LIGHT_SCRYPT))
    for field, spec in (
        ("validators", GenesisSpec(validators=0, password=PASSWORD)),
        ("slots", GenesisSpec(validators=1, password=PASSWORD, slots=0)),
        ("epoch_seconds", GenesisSpec(validators=1, password=PASSWORD, epoch_seconds=0.0)),
    ):
        with pytest.raises(RegistryError, match=field):
            create_genesis(tmp_path / field, spec)
        assert not (tmp_path / field / "registry.sqlite").exists()
