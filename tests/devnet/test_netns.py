"""`tests/devnet/netns.py` tells a machine without namespaces (a skip) from a set-up that went wrong
(a failure): only "not root" and "no `ip`" are `NamespacesUnavailable`."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.devnet import netns
from tests.devnet.netns import NamespacesUnavailable, NetworkSetupFailed, check_namespaces_possible
from tests.environment import require_or_skip


def test_not_root_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(NamespacesUnavailable, match="need root"):
        check_namespaces_possible()


def test_no_ip_command_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(NamespacesUnavailable, match="iproute2"):
        check_namespaces_possible()


def test_a_failing_ip_command_is_a_setup_failure_not_a_missing_part() -> None:
    if shutil.which("ip") is None:
        require_or_skip("the `ip` command (iproute2) is not installed")
    with pytest.raises(NetworkSetupFailed, match="failed") as raised:
        netns._ip("link", "show", "tsr-no-such-link")
    assert not isinstance(raised.value, NamespacesUnavailable)
