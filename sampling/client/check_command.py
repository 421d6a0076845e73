"""`das light check` as a plain function (it runs its own `trio.run`), for `cli.light`.

Kept apart from the CLI module so that `das` imports libp2p only once the arguments are good, and
apart from `follow_command` so that a check imports nothing of the follower (its store, backlog
and status API).
"""

from __future__ import annotations

import trio

from da.kzg import CellVerifier
from sampling.client.check import CheckReport, ProgressCallback, run_check
from sampling.client.request import CheckRequest


def unwrap(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception inside (nested) single-member groups, else the group itself."""
    inner: BaseException = group
    while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
        inner = inner.exceptions[0]
    return inner


def check(
    request: CheckRequest, verifier: CellVerifier, progress: ProgressCallback | None = None
) -> CheckReport:
    """`das light check`: run the check in a fresh trio loop."""
    try:
        return trio.run(run_check, request, verifier, progress)
    except BaseExceptionGroup as group:
        raise unwrap(group) from None
