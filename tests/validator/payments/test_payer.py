"""The payer's pure parts: a node's payment terms read from its JSON (and refused when they are not
terms), and a promise made only after its counter is on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from validator.errors import ApiFailure
from validator.payments.counters import CounterKey, PromiseCounters
from validator.payments.payer import NodePaymentTerms, Payer, node_terms_from_json
from validator.payments.promise import PaymentDomain, PriceTerms, recover_signer

KEY = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
PAYEE = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TERMS: dict[str, Any] = {
    "enabled": True,
    "payee": PAYEE.lower(),
    "chain_id": 31337,
    "verifying_contract": CONTRACT,
    "price_per_byte": "1000",
    "min_billed_bytes": 4096,
    "account": None,
    "held": "25",
    "settled": "0",
}


def test_a_nodes_terms_parse_with_amounts_as_text_or_numbers() -> None:
    terms = node_terms_from_json(TERMS)
    assert terms == NodePaymentTerms(True, PAYEE, PaymentDomain(31337, CONTRACT), PriceTerms(1000, 4096), 25)
    assert node_terms_from_json({**TERMS, "price_per_byte": 1000, "held": None}).held == 0


def test_a_node_with_payments_off_needs_no_other_field() -> None:
    off = {"enabled": False, "payee": None, "chain_id": None, "verifying_contract": None, "held": None}
    assert node_terms_from_json(off) == NodePaymentTerms(enabled=False)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("enabled", "yes"),
        ("payee", "0x1234"),
        ("verifying_contract", None),
        ("price_per_byte", "-1"),
        ("price_per_byte", "1e3"),
        ("min_billed_bytes", 2**64),
        ("chain_id", True),
        ("held", "lots"),
    ],
)
def test_an_answer_that_is_not_terms_is_an_invalid_answer_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ApiFailure) as refused:
        node_terms_from_json({**TERMS, field: value})
    assert refused.value.code == "invalid_answer" and f"`{field}`" in refused.value.message


def test_a_promise_carries_the_counter_it_advanced_and_the_accounts_signature(tmp_path: Path) -> None:
    terms = node_terms_from_json(TERMS)
    with PromiseCounters(tmp_path / "c.sqlite") as counters:
        payer = Payer(KEY, counters, ttl_s=90, clock=lambda: 1_000.5)
        key, signed, advance = payer.promise(terms, b"\x07" * 32, 100, floor=terms.held)
        assert key == CounterKey(payer.account, PAYEE, 31337, CONTRACT)
        assert counters.get(key) == advance.cumulative == 25 + 4096 * 1000
    promise = signed.promise
    assert payer.account == Account.from_key(KEY).address == promise.account
    assert (promise.node, promise.billed_bytes, promise.expiry) == (PAYEE, 4096, 1_090)
    assert recover_signer(PaymentDomain(31337, CONTRACT), signed) == payer.account


def test_no_promise_is_made_for_a_node_that_takes_none(tmp_path: Path) -> None:
    with (
        PromiseCounters(tmp_path / "c.sqlite") as counters,
        pytest.raises(ApiFailure, match="takes no payments"),
    ):
        Payer(KEY, counters).promise(NodePaymentTerms(enabled=False), b"\x07" * 32, 100, floor=0)
