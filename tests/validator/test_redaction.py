"""An RPC URL's key never reaches an anonymous client: error answers and the health's registry
error carry the endpoint's scheme and host only."""

from __future__ import annotations

import json

from validator.daemon.api.errors import error_response
from validator.redaction import redact_urls

KEYED = "https://user:secret@mainnet.infura.io/v3/0123456789abcdef?token=zz"


def test_a_url_is_cut_to_its_scheme_and_host() -> None:
    text = f"ChainUnreachable: {KEYED} did not answer (4 attempts)"
    redacted = redact_urls(text)
    assert redacted == "ChainUnreachable: https://mainnet.infura.io/... did not answer (4 attempts)"
    for secret in ("secret", "0123456789abcdef", "token", "user"):
        assert secret not in redacted
    assert redact_urls("no address here") == "no address here"
    assert redact_urls("ws://127.0.0.1:8546/x and http://h:1") == "ws://127.0.0.1:8546/... and http://h:1/..."


def test_an_error_answer_never_carries_the_key() -> None:
    response = error_response("service_unavailable", f"the registry does not answer: {KEYED}")
    assert response.body is not None and isinstance(response.body, bytes)
    message = json.loads(response.body)["error"]["message"]
    assert "mainnet.infura.io" in message and "0123456789abcdef" not in message and "secret" not in message
