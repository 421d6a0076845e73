"""Secrets out of what anonymous clients read: an RPC URL often carries an API key in its path,
query or user info (`https://mainnet.infura.io/v3/KEY`), and registry errors name their endpoint.
Logs keep the whole text; answers get it through `redact_urls`."""

from __future__ import annotations

import re

_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://(?:[^\s/@'\"]*@)?([^\s/?#'\"]+)[^\s'\"]*")


def redact_urls(text: str) -> str:
    """`text` with every URL cut to its scheme and host (`https://mainnet.infura.io/...`): the
    endpoint stays recognisable, a key in its path, query or user info does not reach the reader."""
    return _URL.sub(lambda match: f"{match.group(1)}://{match.group(2)}/...", text)
