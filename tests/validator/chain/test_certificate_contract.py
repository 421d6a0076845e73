"""The certificate on-chain (`contracts/src/core/TesseraCertificate.sol`) reads certificates as
the Python codec does: the same fields from the same bytes, the same refusals for malformed ones,
the same attestation signing root and threshold (on a real anvil chain)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.contract import Contract

from contracts.toolchain import CompiledContract
from da.types import DataRoot
from tests.examples import examples
from validator.certificate import MAX_QUORUM_SLOTS, bytes_to_certificate, certificate_to_bytes
from validator.errors import MalformedCertificate
from validator.keys import BLSSignature
from validator.presets import DEVNET, MAINNET
from validator.signing import compute_attestation_signing_root
from validator.types import Certificate, Epoch, QuorumIndex

pytestmark = pytest.mark.xdist_group("chain")

UINT64 = st.integers(0, 2**64 - 1)


@pytest.fixture(scope="module")
def harness(web3: Web3, compiled_contracts: dict[str, CompiledContract]) -> Contract:
    compiled = compiled_contracts["TesseraCertificateHarness"]
    factory = web3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    receipt = web3.eth.wait_for_transaction_receipt(
        factory.constructor().transact({"from": web3.eth.accounts[0]})
    )
    return web3.eth.contract(address=receipt["contractAddress"], abi=compiled.abi)


def _on_chain(harness: Contract, data: bytes) -> Certificate | None:
    ok, root, epoch, quorum, bits, signed, signature, signers = harness.functions.decode(data).call()
    if not ok:
        return None
    assert signed == sum(signers) and bits == len(signers)
    return Certificate(
        DataRoot(root), Epoch(epoch), QuorumIndex(quorum), tuple(signers), BLSSignature(signature)
    )


def _in_python(data: bytes) -> Certificate | None:
    try:
        return bytes_to_certificate(data)
    except MalformedCertificate:
        return None


certificates = st.builds(
    Certificate,
    data_root=st.binary(min_size=32, max_size=32).map(DataRoot),
    epoch=UINT64.map(Epoch),
    quorum=UINT64.map(QuorumIndex),
    signers=st.lists(st.booleans(), max_size=MAX_QUORUM_SLOTS).map(tuple),
    signature=st.binary(min_size=96, max_size=96).map(BLSSignature),
)


@settings(max_examples=examples(40), deadline=None)
@given(certificate=certificates)
def test_a_certificate_decodes_to_the_same_fields_on_chain(
    harness: Contract, certificate: Certificate
) -> None:
    data = certificate_to_bytes(certificate)
    assert _on_chain(harness, data) == _in_python(data) == certificate


@settings(max_examples=examples(60), deadline=None)
@given(
    certificate=certificates, cut=st.integers(0, 200), extra=st.binary(max_size=40), flip=st.integers(0, 180)
)
def test_damaged_bytes_get_the_same_verdict(
    harness: Contract, certificate: Certificate, cut: int, extra: bytes, flip: int
) -> None:
    data = certificate_to_bytes(certificate)
    for damaged in (
        data[:cut],
        data + extra,
        data[:flip] + bytes([data[flip] ^ 0xFF]) + data[flip + 1 :] if flip < len(data) else data,
    ):
        assert _on_chain(harness, damaged) == _in_python(damaged), damaged.hex()


def test_the_edges_of_the_layout(harness: Contract) -> None:
    full = certificate_to_bytes(
        Certificate(
            DataRoot(b"\x01" * 32), Epoch(2), QuorumIndex(3), (True,) * 256, BLSSignature(b"\x05" * 96)
        )
    )
    empty = certificate_to_bytes(
        Certificate(DataRoot(b"\x01" * 32), Epoch(2), QuorumIndex(3), (), BLSSignature(b"\x05" * 96))
    )
    cases: dict[str, bytes] = {
        "256 signers": full,
        "no signers": empty,
        "257 signers": full[:-1] + b"\xff\x02",
        "no delimiter": empty[:-1] + b"\x00",
        "wrong offset": empty[:48] + (149).to_bytes(4, "little") + empty[52:],
        "only the fixed part": empty[:148],
        "one byte too many": full + b"\x01",
    }
    for what, data in cases.items():
        assert _on_chain(harness, data) == _in_python(data), what
    assert _on_chain(harness, full) is not None and _on_chain(harness, cases["257 signers"]) is None


@settings(max_examples=examples(30), deadline=None)
@given(chain_id=UINT64, epoch=UINT64, quorum=UINT64, root=st.binary(min_size=32, max_size=32))
def test_the_signing_root_is_the_attestation_message_root(
    harness: Contract, chain_id: int, epoch: int, quorum: int, root: bytes
) -> None:
    expected = compute_attestation_signing_root(chain_id, Epoch(epoch), QuorumIndex(quorum), DataRoot(root))
    assert harness.functions.signingRoot(chain_id, epoch, quorum, root).call() == expected


def test_the_threshold_is_the_presets(harness: Contract) -> None:
    for preset in (DEVNET, MAINNET):
        for slots in range(0, MAX_QUORUM_SLOTS + 1):
            assert harness.functions.threshold(slots).call() == preset.certificate_threshold(slots), slots
