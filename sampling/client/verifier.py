"""A KZG cell verifier whose trusted setup loads in a child process, for a fast cold start.

Loading ckzg's trusted setup takes 1.5-3 s and holds the GIL the whole time (DESIGN.md section 6),
so a thread cannot overlap it with anything. `das light check` forks this verifier first thing,
before it imports libp2p: the child loads the setup on the second core while the parent imports,
reads the registry, dials, and fetches the header and the samples. The first verification waits
for the child; later ones cost a pipe round trip (about 0.3 MB for 150 samples) on top of ckzg.

Where `fork` is unavailable the caller loads the setup in-process instead (`load_ckzg_backend`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType

from da.errors import InvalidKZGInput
from da.kzg import PRECOMPUTE_FOR_VERIFYING, load_ckzg_backend
from da.types import Cell, ColumnIndex, KZGCommitment, KZGProof
from sampling.client.errors import VerifierFailed

STOP_GRACE_SECONDS = 0.2
STOP_TIMEOUT_SECONDS = 2.0


def can_fork() -> bool:
    """True where the `fork` start method exists (Linux, macOS)."""
    return "fork" in multiprocessing.get_all_start_methods()


def _serve(
    connection: Connection, parent_end: Connection, precompute: int, trusted_setup: Path | None
) -> None:
    """Child: load the setup, then answer verification requests until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    parent_end.close()  # our copy of the parent's end: without this, the parent's death is no EOF
    try:
        backend = load_ckzg_backend(precompute, trusted_setup)
        load_error: InvalidKZGInput | None = None
    except InvalidKZGInput as error:
        load_error = error
    with connection:
        while True:
            try:
                request = connection.recv()
            except (EOFError, OSError):
                return
            if request is None:
                return
            if load_error is not None:
                connection.send(("failed", str(load_error)))
                continue
            try:
                connection.send(("ok", backend.verify_cell_proof_batch(*request)))
            except InvalidKZGInput as error:
                connection.send(("error", error.operation, error.detail))


class ProcessCellVerifier:
    """`CellVerifier` served by a forked child that starts loading the trusted setup at once.

    Calls are serialised on one pipe (safe from worker threads). Close it (or use `with`) to stop
    the child. A child that died, or could not load the setup, makes calls raise `VerifierFailed`
    (not `InvalidKZGInput`, which would pass for a false proof and blame the peer).
    """

    def __init__(self, precompute: int = PRECOMPUTE_FOR_VERIFYING, trusted_setup: Path | None = None) -> None:
        context = multiprocessing.get_context("fork")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, self._connection, precompute, trusted_setup),
            name="kzg-verifier",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._lock = threading.Lock()
        self._closed = False

    def verify_cell_proof_batch(
        self,
        commitments: Sequence[KZGCommitment],
        columns: Sequence[ColumnIndex],
        cells: Sequence[Cell],
        proofs: Sequence[KZGProof],
    ) -> bool:
        """One batched check in the child (waits for its setup the first time)."""
        request = (list(commitments), list(columns), list(cells), list(proofs))
        with self._lock:
            try:
                self._connection.send(request)
                answer = self._connection.recv()
            except (EOFError, OSError) as error:
                raise VerifierFailed(f"the verifier process is gone ({type(error).__name__})") from error
        if answer[0] == "ok":
            return bool(answer[1])
        if answer[0] == "failed":
            raise VerifierFailed(answer[1])
        raise InvalidKZGInput(answer[1], answer[2])

    def close(self) -> None:
        """Stop the child and close the pipe; idempotent. A child still loading the setup is killed
        (it holds nothing worth keeping)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(OSError):
                self._connection.send(None)
            self._connection.close()
        self._process.join(STOP_GRACE_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(STOP_TIMEOUT_SECONDS)
        self._process.close()

    def __enter__(self) -> ProcessCellVerifier:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
