"""Single-event transients in the fault-injection build (`verif.set_build`): injector, checks.

`TransientInjector` picks an injection point at random (every class equally likely, then a
point of it), a clock at random, raises the point's bit of `set_mask` `LEAD_NS` before the
rising edge and lowers it just after: the flip-flops sample the net inverted at that edge.
Then, `SETTLE_CLOCKS` edges later, it checks what must hold after any single transient:

* no copies disagree any more (the error flags, combinational inside ae_top, are all low);
* the registers that hold a known value (the weights, the configuration) hold it in every
  copy. If not, the transient corrupted state persistently: counted, and the value put back
  (by the injection port, as a rewrite over I2C would), so each corruption counts once.

The stream checker's bad outputs between one transient and the next go to the first
(a transient on a datapath net, or on the voter the datapath reads, may spoil the outputs
of the crossing it hit: counted per class).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from verif.params import CLOCK_NS
from verif.seu import Copies, bits, read
from verif.seu_wrapper import StreamChecker

#: how long before the rising edge a transient starts (it ends just after the edge)
LEAD_NS = 2
#: edges after the transient's edge by which every copy must agree again: one to repair a
#: voted copy, two more for a pad synchroniser copy of one domain, whose wrong value reaches
#: that domain's filter one and two edges later
SETTLE_CLOCKS = 4


@dataclass
class Transient:
    index: int
    cycle: int
    point: int
    net: str
    net_class: str
    #: the error flags were not all low after the transient's edge (a copy took it)
    flagged: bool = False
    #: the flags were all low again SETTLE_CLOCKS edges later
    settled: bool = False
    #: registers holding a known value found wrong after settling (then put back)
    corrupted: list[str] = field(default_factory=list)
    bad_outputs: int = 0


class TransientInjector:
    def __init__(self, dut: Any, points: Sequence[Any], held: dict[str, tuple[Copies, str]],
                 stream: StreamChecker, rng: random.Random):
        """`held`: register -> (its copies, the value every copy must hold, as a binary string)."""
        self.dut, self.stream, self.rng = dut, stream, rng
        self.points = list(points)
        self.by_class: dict[str, list[Any]] = {}
        for point in self.points:
            self.by_class.setdefault(point.net_class, []).append(point)
        self.held = dict(held)
        self.transients: list[Transient] = []
        self.orphans = 0
        self._bad_seen = stream.bad()
        self.running = False
        self._task = None

    def attribute(self) -> None:
        bad = self.stream.bad()
        if self.transients:
            self.transients[-1].bad_outputs += bad - self._bad_seen
        else:
            self.orphans += bad - self._bad_seen
        self._bad_seen = bad

    def pick(self) -> Any:
        return self.rng.choice(self.by_class[self.rng.choice(sorted(self.by_class))])

    async def transient(self, point: Any) -> Transient:
        """Called just after a rising edge: invert the point over the next edge, then check."""
        dut = self.dut
        await Timer(CLOCK_NS - LEAD_NS, "ns")
        self.attribute()
        t = Transient(len(self.transients), self.stream.cycle(), point.index, point.net, point.net_class)
        self.transients.append(t)
        dut.set_index.value = point.index
        dut.set_on.value = 1
        await RisingEdge(dut.clk)
        dut.set_on.value = 0
        await ReadOnly()
        t.flagged = read(dut.u_top.tmr_flags, "the error flags") != 0
        for _ in range(SETTLE_CLOCKS):
            await RisingEdge(dut.clk)
        await ReadOnly()
        t.settled = read(dut.u_top.tmr_flags, "the error flags") == 0
        for name, (copies, want) in self.held.items():
            if any(bits(h) != want for h in copies.handles):
                t.corrupted.append(name)
        await Timer(1, "ps")
        for name in t.corrupted:
            copies, want = self.held[name]
            copies.set(int(want, 2))
        return t

    async def _run(self, count: int | None, gap: tuple[int, int]) -> None:
        done = 0
        await RisingEdge(self.dut.clk)
        while self.running and (count is None or done < count):
            clocks = self.rng.randint(*gap)
            if clocks:
                await Timer(clocks * CLOCK_NS, "ns")
            await self.transient(self.pick())
            done += 1
        self.running = False

    async def run(self, count: int, gap: tuple[int, int] = (0, 4)) -> None:
        self.running = True
        await self._run(count, gap)

    def start(self, gap: tuple[int, int] = (0, 4)) -> None:
        self.running = True
        self._task = cocotb.start_soon(self._run(None, gap))

    async def stop(self) -> None:
        self.running = False
        if self._task is not None:
            await self._task
            self._task = None


def summarise_transients(transients: Sequence[Transient]) -> dict[str, Any]:
    per_class: dict[str, Counter[str]] = {}
    for t in transients:
        c = per_class.setdefault(t.net_class, Counter())
        c["injected"] += 1
        c["flagged"] += t.flagged
        c["not_settled"] += not t.settled
        c["persistent_corruptions"] += bool(t.corrupted)
        c["with_bad_outputs"] += t.bad_outputs > 0
        c["bad_outputs"] += t.bad_outputs
    corrupted = Counter(name for t in transients for name in t.corrupted)
    return {
        "injected": len(transients),
        "flagged": sum(t.flagged for t in transients),
        "not_settled": sum(not t.settled for t in transients),
        "persistent_corruptions": sum(bool(t.corrupted) for t in transients),
        "corrupted_registers": dict(sorted(corrupted.items())),
        "with_bad_outputs": sum(t.bad_outputs > 0 for t in transients),
        "bad_outputs": sum(t.bad_outputs for t in transients),
        "per_class": {k: dict(v) for k, v in sorted(per_class.items())},
        "distinct_points_hit": len({t.point for t in transients}),
        "first_corruptions": [f"transient {t.index} on {t.net} ({t.net_class}), clock {t.cycle}: "
                              + ", ".join(t.corrupted) for t in transients if t.corrupted][:5],
    }
