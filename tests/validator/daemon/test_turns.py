"""`AccountTurns`: an account's tasks take turns, other accounts' run beside them, and no account is
kept once none of its tasks is inside or waiting."""

from __future__ import annotations

import trio

from validator.daemon.turns import AccountTurns


def test_an_account_takes_turns_and_others_run_beside_it() -> None:
    async def main() -> tuple[list[str], int, int]:
        turns = AccountTurns()
        inside: dict[str, int] = {}
        most: dict[str, int] = {}
        order: list[str] = []
        tracked = 0

        async def work(account: str, name: str) -> None:
            nonlocal tracked
            async with turns.turn(account):
                inside[account] = inside.get(account, 0) + 1
                most[account] = max(most.get(account, 0), inside[account])
                order.append(name)
                tracked = max(tracked, len(turns))
                await trio.sleep(0.05)
                inside[account] -= 1

        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                for index in range(3):
                    nursery.start_soon(work, "ip:127.0.0.2", f"greedy-{index}")
                await trio.sleep(0.01)  # the flood's first is inside, the others wait
                nursery.start_soon(work, "ip:127.0.0.1", "honest")
        assert most == {"ip:127.0.0.2": 1, "ip:127.0.0.1": 1}  # one at a time per account
        return order, tracked, len(turns)

    order, tracked, left = trio.run(main)
    assert order.index("honest") == 1  # beside the flood's first, not behind its backlog
    assert tracked == 2 and left == 0
