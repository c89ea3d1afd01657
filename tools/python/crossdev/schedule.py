"""Which steps a trace snapshots (host/train/schedule.c, docs/trace-format.md):
0, 1, 2, 3, 5, 10, 20, 50, 100, 101, then k*500 and k*500+1, and the last
step; snapshot_every K adds every K-th step, snapshot_at replaces the list
(0 and the last step are always kept).

    >>> snapshot_schedule(1000)
    [0, 1, 2, 3, 5, 10, 20, 50, 100, 101, 500, 501, 1000]

A framework's loop may not know its length in advance: Schedule.wants()
answers step by step, and the caller snapshots the last step when it
ends.  For a run of N steps that gives snapshot_schedule(N) exactly (the
k*500 of the last step is its end; k*500+1 exists only when run).
"""
from typing import Iterable, List, Optional

__all__ = ["EARLY", "snapshot_schedule", "Schedule"]

EARLY = (0, 1, 2, 3, 5, 10, 20, 50, 100, 101)


def snapshot_schedule(total: int, at: Optional[Iterable[int]] = None, every: int = 0) -> List[int]:
    """The sorted steps of a run of `total` steps, as the C trainer plans them."""
    if at is not None:
        at = [int(s) for s in at]
        bad = [s for s in at if s < 0 or s > total]
        if bad:
            raise ValueError(f"snapshot_at: step {bad[0]} is outside 0..{total}")
        steps = set(at) | {0}
    else:
        steps = {s for s in EARLY if s <= total}
        for k in range(500, total, 500):
            steps.add(k)
            if k + 1 <= total:
                steps.add(k + 1)
    if every > 0:
        steps.update(range(every, total + 1, every))
    steps.add(total)
    return sorted(steps)


class Schedule:
    """The same rule, asked one step at a time (the end is the caller's)."""

    def __init__(self, at: Optional[Iterable[int]] = None, every: int = 0):
        self.at = None if at is None else {int(s) for s in at} | {0}
        self.every = int(every or 0)

    def wants(self, step: int) -> bool:
        if self.every > 0 and step > 0 and step % self.every == 0:
            return True
        if self.at is not None:
            return step in self.at
        return step in EARLY or (step >= 500 and step % 500 in (0, 1))
