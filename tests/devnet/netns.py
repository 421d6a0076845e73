"""Separate hosts on one machine: network namespaces joined by a bridge, each with its own IPv4 address.

`open_network(["chain", "v1", ...])` creates, for this run only (names start with `tsr<pid>`), a bridge
in the root namespace with no address on it (the root namespace neither reaches the hosts nor is reached
by them), one namespace per label with `lo` up and a veth pair into the bridge, the addresses .2, .3, ...
of a private 10.77.X.0/24 that no address or route of the root namespace overlaps, and checks that TCP
passes between two of them. On the way out, even after a failure, it kills what still runs in its
namespaces (bounded), then deletes the veth pairs, the bridge and the namespaces.

Only a machine that cannot have namespaces at all (not root, no `ip`) raises `NamespacesUnavailable`, which
a test may skip on (`check_namespaces_possible`, before anything is set up); once set-up has begun, a
failing `ip` command, no free subnet or a failed TCP probe raises `NetworkSetupFailed`: the test fails.

`Processes` starts commands inside a host (`ip netns exec`, which execs them: the pid is the program's)
in their own sessions, and stops them all: SIGTERM to each session, a bounded wait, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

IP_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 10.0
SUBNET_SECOND_OCTET = 77
FIRST_HOST_NUMBER = 2


class NamespacesUnavailable(Exception):
    """Raised when this machine cannot give a test network namespaces: not root, or no `ip`."""


class NetworkSetupFailed(RuntimeError):
    """Raised when setting up or taking down the hosts fails once begun: an `ip` command refused, no
    free subnet, no TCP through the bridge, or something left undeleted. A bug, not a missing part."""


@dataclass(frozen=True, slots=True)
class Host:
    """One network namespace, attached to the bridge with one address."""

    label: str
    namespace: str
    address: str
    veth: str
    """Its veth end in the root namespace (a bridge port; deleting it deletes the pair)."""

    @property
    def prefix(self) -> tuple[str, ...]:
        """The command prefix that runs a program inside this host."""
        return (find_ip(), "netns", "exec", self.namespace)

    def command(self, *args: str) -> list[str]:
        """`args` as a command run inside this host."""
        return [*self.prefix, *args]


@dataclass(frozen=True, slots=True)
class Network:
    """The bridge and the hosts on it, by label."""

    run: str
    """What every name of this run starts with: `tsr<pid>`."""
    subnet: ipaddress.IPv4Network
    hosts: dict[str, Host]

    @property
    def bridge(self) -> str:
        """The bridge's name (in the root namespace)."""
        return f"{self.run}br"

    def __getitem__(self, label: str) -> Host:
        return self.hosts[label]


def check_namespaces_possible() -> None:
    """Raises `NamespacesUnavailable` unless this process is root and `ip` (iproute2) is installed."""
    if os.geteuid() != 0:
        raise NamespacesUnavailable("network namespaces need root")
    find_ip()


def find_ip() -> str:
    """The `ip` command of iproute2; raises `NamespacesUnavailable` when there is none."""
    found = shutil.which("ip")
    if found is None:
        raise NamespacesUnavailable("the `ip` command (iproute2) is not installed")
    return found


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [find_ip(), *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False
    )
    if check and done.returncode != 0:
        raise NetworkSetupFailed(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")
    return done


def choose_subnet(seed: int) -> ipaddress.IPv4Network:
    """A 10.77.X.0/24 that overlaps no address or route of the root namespace (X starts at `seed`)."""
    used: list[ipaddress.IPv4Network] = []
    for line in _ip("-o", "-4", "addr").stdout.splitlines():
        words = line.split()
        if "inet" in words:
            used.append(ipaddress.IPv4Interface(words[words.index("inet") + 1]).network)
    for line in _ip("-4", "route").stdout.splitlines():
        with contextlib.suppress(ValueError, IndexError):  # "default via ...": no prefix to avoid
            used.append(ipaddress.IPv4Network(line.split()[0], strict=False))
    for step in range(256):
        candidate = ipaddress.IPv4Network(f"10.{SUBNET_SECOND_OCTET}.{(seed + step) % 256}.0/24")
        if not any(candidate.overlaps(network) for network in used):
            return candidate
    raise NetworkSetupFailed(f"every 10.{SUBNET_SECOND_OCTET}.X.0/24 is in use on this machine")


@contextlib.contextmanager
def open_network(labels: Sequence[str]) -> Iterator[Network]:
    """The bridge and one namespace per label, for the `with` block; see the module docstring."""
    check_namespaces_possible()
    run = f"tsr{os.getpid()}"
    subnet = choose_subnet(os.getpid())
    addresses = subnet.hosts()
    for _ in range(FIRST_HOST_NUMBER - 1):
        next(addresses)
    hosts = {
        label: Host(label, f"{run}-{label}", str(next(addresses)), f"{run}h{number}")
        for number, label in enumerate(labels)
    }
    network = Network(run, subnet, hosts)
    try:
        _create(network)
        _probe(*list(hosts.values())[:2])
        yield network
    finally:
        _delete(network)


def _create(network: Network) -> None:
    # No IPv6 link-local address either: the root namespace gets no address on the bridge or its ports.
    _ip("link", "add", network.bridge, "type", "bridge")
    _ip("link", "set", network.bridge, "addrgenmode", "none")
    _ip("link", "set", network.bridge, "up")
    for number, host in enumerate(network.hosts.values()):
        inside = f"{network.run}n{number}"  # interface names have at most 15 characters
        _ip("netns", "add", host.namespace)
        _ip("-n", host.namespace, "link", "set", "lo", "up")
        _ip("link", "add", host.veth, "type", "veth", "peer", "name", inside)
        _ip("link", "set", host.veth, "addrgenmode", "none")
        _ip("link", "set", inside, "netns", host.namespace)
        _ip("link", "set", host.veth, "master", network.bridge, "up")
        _ip("-n", host.namespace, "addr", "add", f"{host.address}/{network.subnet.prefixlen}", "dev", inside)
        _ip("-n", host.namespace, "link", "set", inside, "up")


_LISTENER = """
import socket, sys
server = socket.create_server((sys.argv[1], 0))
server.settimeout(float(sys.argv[2]))
print(server.getsockname()[1], flush=True)
server.accept()[0].close()
"""
_DIALER = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()"


def _probe(server: Host, client: Host) -> None:
    """One TCP connection from `client` to `server` through the bridge (a host firewall filtering
    bridged traffic, br_netfilter with FORWARD dropped, would stop every test that follows)."""
    timeout = str(PROBE_TIMEOUT_S)
    with subprocess.Popen(
        server.command(sys.executable, "-c", _LISTENER, server.address, timeout),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as listener:
        try:
            assert listener.stdout is not None
            port = listener.stdout.readline().strip()
            dial = subprocess.run(
                client.command(sys.executable, "-c", _DIALER, server.address, port or "0"),
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT_S,
                check=False,
            )
            if not port or dial.returncode != 0:
                raise NetworkSetupFailed(
                    f"no TCP from {client.address} to {server.address} through the bridge "
                    f"(is bridged traffic filtered?): {dial.stderr.strip()[-300:]}"
                )
            listener.wait(PROBE_TIMEOUT_S)
        finally:
            if listener.poll() is None:
                listener.kill()
                listener.wait(PROBE_TIMEOUT_S)


def _delete(network: Network) -> None:
    """Kill what still runs in the namespaces, then delete veths, bridge and namespaces (each step is
    tried even if one before it failed; what is left afterwards is raised)."""
    for host in network.hosts.values():
        _kill_namespace(host.namespace)
    for host in network.hosts.values():
        _ip("link", "del", host.veth, check=False)
    _ip("link", "del", network.bridge, check=False)
    for host in network.hosts.values():
        _ip("netns", "del", host.namespace, check=False)
    left = [host.namespace for host in network.hosts.values() if host.namespace in namespaces()]
    left += [
        name for name in (network.bridge, *(h.veth for h in network.hosts.values())) if _link_exists(name)
    ]
    if left:
        raise NetworkSetupFailed(f"could not delete {left}")


def _kill_namespace(namespace: str) -> None:
    """SIGKILL every process left in `namespace` (only ours run there), waiting until they are gone."""
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        answer = _ip("netns", "pids", namespace, check=False)
        pids = [int(word) for word in answer.stdout.split()] if answer.returncode == 0 else []
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def namespaces() -> list[str]:
    """The names of the network namespaces of this machine (`ip netns list`)."""
    return [line.split()[0] for line in _ip("netns", "list", check=False).stdout.splitlines() if line]


def _link_exists(name: str) -> bool:
    return _ip("link", "show", name, check=False).returncode == 0


@dataclass
class Processes:
    """Programs started inside hosts, each in its own session, its output in a log file."""

    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, host: Host, args: Sequence[str], log_path: Path, cwd: Path | None = None) -> int:
        """Start `args` inside `host`; returns its pid."""
        with log_path.open("ab") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                host.command(*args),
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                start_new_session=True,
            )
        self.started.append(process)
        return process.pid

    def exited(self) -> list[tuple[int, int]]:
        """(pid, exit code) of every started process that has ended."""
        return [(p.pid, p.returncode) for p in self.started if p.poll() is not None]

    def stop_all(self) -> None:
        """SIGTERM every session, wait up to `STOP_TIMEOUT_S` for all, SIGKILL the rest, reap them."""
        for process in self.started:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.0, deadline - time.monotonic()))
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT_S)
        self.started.clear()
