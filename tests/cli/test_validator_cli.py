"""`das validator ...` and `das cert verify` as an operator runs them: subprocesses, files, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from da.types import DataRoot
from tests.cli.conftest import PASSWORD, das
from validator.aggregation import AttestationAggregator
from validator.certificate import certificate_to_bytes
from validator.keystore import decrypt_keystore, read_keystore
from validator.quorums import compute_quorums
from validator.registry.sqlite import SqliteRegistry
from validator.signing import compute_attestation_signing_root
from validator.types import Attestation, Epoch


def _certify(network: Path, signers: int) -> bytes:
    """Sign with the first `signers` members' real keystores and aggregate (no threshold shortcut)."""
    with SqliteRegistry(network / "registry.sqlite") as registry:
        context = registry.get_epoch_context(Epoch(0))
        preset = registry.preset
    (quorum,) = compute_quorums(context, preset)
    root = DataRoot(b"\x5a" * 32)
    aggregator = AttestationAggregator(context, quorum, root, preset)
    message = compute_attestation_signing_root(context.chain_id, Epoch(0), quorum.index, root)
    for member in quorum.members[:signers]:
        key = decrypt_keystore(read_keystore(network / "keys" / f"validator-{member}.json"), PASSWORD)
        aggregator.add(Attestation(Epoch(0), quorum.index, root, member, key.sign(message)))
    assert aggregator.certificate is not None
    return certificate_to_bytes(aggregator.certificate)


def test_cert_verify_accepts_a_valid_certificate(network: Path, tmp_path: Path) -> None:
    (tmp_path / "cert.ssz").write_bytes(_certify(network, 6))
    result = das("cert", "verify", "cert.ssz", "--registry", str(network / "registry.sqlite"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("VALID: 6 of 8 slots signed (threshold 6)")
    assert "preset devnet" in result.stdout
    (tmp_path / "cert.hex").write_text("0x" + _certify(network, 8).hex() + "\n")
    result = das(
        "cert", "verify", "cert.hex", "--registry", str(network / "registry.sqlite"), "--json", cwd=tmp_path
    )
    verdict = json.loads(result.stdout)
    assert result.returncode == 0 and verdict["valid"] and verdict["signed_slots"] == 6  # formed at threshold


def test_cert_verify_rejects_tampered_and_garbage_certificates(network: Path, tmp_path: Path) -> None:
    wire = bytearray(_certify(network, 6))
    wire[0] ^= 1  # another data root
    (tmp_path / "bad.ssz").write_bytes(bytes(wire))
    (tmp_path / "junk.ssz").write_bytes(b"not a certificate")
    registry = str(network / "registry.sqlite")
    result = das("cert", "verify", "bad.ssz", "--registry", registry, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("INVALID: aggregate signature does not verify")
    result = das("cert", "verify", "junk.ssz", "--registry", registry, cwd=tmp_path)
    assert result.returncode == 1
    assert "INVALID: certificate is 17 bytes" in result.stdout
    result = das("cert", "verify", "missing.ssz", "--registry", registry, cwd=tmp_path)
    assert result.returncode == 2 and "No such file" in result.stderr


def test_stake_keygen_and_errors(network: Path, tmp_path: Path) -> None:
    registry = str(network / "registry.sqlite")
    result = das(
        "validator",
        "keygen",
        "--out",
        "new.json",
        "--light-kdf",
        "--password-env",
        "TESSERA_TEST_PW",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert oct((tmp_path / "new.json").stat().st_mode & 0o777) == "0o600"
    result = das(
        "validator",
        "stake",
        "--registry",
        registry,
        "--keystore",
        "new.json",
        "--amount",
        "32000000000",
        "--password-env",
        "TESSERA_TEST_PW",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "validator   8 registered with 32000000000 (effective at epoch 3" in result.stdout
    result = das(
        "validator",
        "stake",
        "--registry",
        registry,
        "--keystore",
        "new.json",
        "--amount",
        "1",
        "--withdraw",
        cwd=tmp_path,
    )
    assert result.returncode == 0 and "validator   8 withdrew 1" in result.stdout
    result = das(
        "validator",
        "stake",
        "--registry",
        registry,
        "--keystore",
        "new.json",
        "--amount",
        "99999999999999",
        "--withdraw",
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "cannot withdraw" in result.stderr
    result = das(
        "validator", "keygen", "--out", "new.json", "--password-env", "TESSERA_TEST_PW", cwd=tmp_path
    )
    assert (
        result.returncode == 2 and "refusing to overwrite existing keystore file: new.json" in result.stderr
    )
    result = das(
        "validator",
        "genesis",
        "--validators",
        "2",
        "--dir",
        str(network),
        "--password-env",
        "TESSERA_TEST_PW",
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "already exists" in result.stderr
