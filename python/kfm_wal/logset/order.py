"""The order in which a log set's operations happened, for replay (docs/FORMAT.md section 4,
"stream"): an operation after every operation its `wal:` links name (in its stream or another);
otherwise by intent timestamp, then stream id, then seq. Within one stream this is seq order (a
stream's timestamps do not go back in a valid log)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from ..errors import LogSetError
from .facts import Intent, StreamFacts


@dataclass(frozen=True)
class Step:
    """One operation of the set, in replay order: its stream and its sealed intent."""

    stream: str
    intent: Intent


def order(facts: dict[str, StreamFacts]) -> list[Step]:
    """Every sealed intent of the set, each after what it depends on: the previous intent of its
    stream and the intents its links name. Raises LogSetError on a cycle (links that contradict
    each other: the set fails validation with set.link_order first)."""
    where: dict[str, Step] = {}
    steps: list[Step] = []
    for stream in sorted(facts):
        for intent in facts[stream].intents:
            step = Step(stream, intent)
            steps.append(step)
            where.setdefault(intent.wal_id, step)
    after: dict[int, list[int]] = {i: [] for i in range(len(steps))}
    waiting = [0] * len(steps)
    index = {id(s): i for i, s in enumerate(steps)}
    previous: dict[str, int] = {}
    for i, step in enumerate(steps):
        # Links inside a stream add nothing: its own order is seq order (a link forward in it is
        # the stream's history, not the set's, and never reorders it).
        before = {where[t] for t in step.intent.links if t in where and where[t].stream != step.stream}
        if step.stream in previous:
            before.add(steps[previous[step.stream]])
        previous[step.stream] = i
        for b in before:
            after[index[id(b)]].append(i)
            waiting[i] += 1

    def key(i: int) -> tuple[str, str, int, int]:
        s = steps[i]
        return (s.intent.timestamp, s.stream, s.intent.place.seq, i)

    ready = [key(i) for i in range(len(steps)) if waiting[i] == 0]
    heapq.heapify(ready)
    out: list[Step] = []
    while ready:
        i = heapq.heappop(ready)[-1]
        out.append(steps[i])
        for j in after[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, key(j))
    if len(out) != len(steps):
        stuck = next(s for i, s in enumerate(steps) if waiting[i] > 0)
        raise LogSetError(
            f"the links of stream {stuck.stream} (seq {stuck.intent.place.seq}, wal_id {stuck.intent.wal_id}) "
            "form a cycle with other operations: no order satisfies them"
        )
    return out


__all__ = ["Step", "order"]
