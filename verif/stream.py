"""Streaming testbench components: driver, monitor, model and scoreboard.

In the style of cocotb's `examples/matrix_multiplier`: small classes joined in
one `StreamBench`. Sizes come from the `Design`; the model is the bit-exact
Python model (`asicgen.core.golden`). X or Z on an output the monitor samples is a
failure, and every queue must be empty at the end.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, ReadWrite, RisingEdge

from asicgen.core import golden
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet
from verif.params import CLOCK_NS
from verif.vectors import pack_rows


@dataclass(frozen=True)
class Ports:
    """Names of the DUT's ports (the plain datapath or the wrapped ae_top)."""

    clk: str
    rst_n: str
    tc: str
    tc_valid: str
    sum: str
    out: str
    valid: str


TOP_PORTS = Ports("clk", "rst_n", "tc_in", "tc_valid", "ae_sum", "ae_out", "ae_valid")
CORE_PORTS = Ports("clk_i", "rst_ni", "tc_i", "tc_valid_i", "sum_o", "out_o", "valid_o")


def pack(values: np.ndarray, bits: int) -> int:
    """Element i at bits bits*i+bits-1 .. bits*i of one integer."""
    return pack_rows(np.asarray(values)[None, :], bits)[0]


def unpack(word: int, bits: int, count: int) -> list[int]:
    mask = (1 << bits) - 1
    return [(word >> (bits * i)) & mask for i in range(count)]


@dataclass(frozen=True)
class Result:
    cycle: int
    sum_code: int
    out: tuple[int, ...]


class CycleCounter:
    """Counts rising clock edges, so that latencies can be measured in clocks."""

    def __init__(self, clk):
        self.clk = clk
        self.value = 0

    def start(self) -> None:
        cocotb.start_soon(self._run())

    async def _run(self) -> None:
        while True:
            await RisingEdge(self.clk)
            self.value += 1


class StreamDriver:
    """Presents modules on the TC bus: one every `spacing` clocks."""

    def __init__(self, dut, ports: Ports, design: Design, cycles: CycleCounter):
        self.dut, self.ports, self.design, self.cycles = dut, ports, design, cycles
        self.sent_cycles: deque[int] = deque()

    async def sampled(self, clk) -> None:
        """Wait for the edge that samples the inputs; note the cycle they were presented in.

        ReadWrite runs after every coroutine the edge woke, the cycle counter included."""
        await RisingEdge(clk)
        await ReadWrite()
        self.sent_cycles.append(self.cycles.value - 1)

    def idle(self) -> None:
        getattr(self.dut, self.ports.tc_valid).value = 0

    async def send(self, codes: np.ndarray, spacing: int) -> None:
        clk = getattr(self.dut, self.ports.clk)
        tc, valid = getattr(self.dut, self.ports.tc), getattr(self.dut, self.ports.tc_valid)
        bits = self.design.converter.tc_code.bits
        for row in codes:
            tc.value = pack(row, bits)
            valid.value = 1
            await self.sampled(clk)
            if spacing > 1:
                valid.value = 0
                await ClockCycles(clk, spacing - 1)
        valid.value = 0


class OutputMonitor:
    """Samples the outputs on every clock where the valid flag is high."""

    def __init__(self, dut, ports: Ports, design: Design, cycles: CycleCounter):
        self.dut, self.ports, self.design, self.cycles = dut, ports, design, cycles
        self.results: deque[Result] = deque()
        self.errors: list[str] = []
        self._task = None

    def start(self) -> None:
        self._task = cocotb.start_soon(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        clk = getattr(self.dut, self.ports.clk)
        valid = getattr(self.dut, self.ports.valid)
        out_bits = self.design.output_type.bits
        while True:
            await RisingEdge(clk)
            await ReadOnly()
            cycle = self.cycles.value
            if not valid.value.is_resolvable:
                self.errors.append(f"cycle {cycle}: valid is {valid.value}")
                continue
            if int(valid.value) != 1:
                continue
            sum_v, out_v = getattr(self.dut, self.ports.sum).value, getattr(self.dut, self.ports.out).value
            if not (sum_v.is_resolvable and out_v.is_resolvable):
                self.errors.append(f"cycle {cycle}: X/Z on the outputs (sum {sum_v}, out {out_v})")
                continue
            self.results.append(Result(cycle, int(sum_v),
                                       tuple(unpack(int(out_v), out_bits, self.design.n_outputs))))


class Model:
    """Expected outputs of the bit-exact Python model, in order."""

    def __init__(self, design: Design, weights: WeightSet):
        self.design, self.weights = design, weights
        self.expected: deque[Result] = deque()

    def push(self, codes: np.ndarray, elinks: int) -> None:
        outputs = golden.run(self.design, self.weights, codes, elinks)
        for s, o in zip(outputs.sum_code.tolist(), outputs.out.tolist(), strict=True):
            self.expected.append(Result(-1, s, tuple(o)))


class Scoreboard:
    """Compares each monitored result with the model's, and its latency with the design's."""

    def __init__(self, design: Design, driver: StreamDriver, monitor: OutputMonitor, model: Model):
        self.design, self.driver, self.monitor, self.model = design, driver, monitor, model
        self.compared = 0
        self.mismatches: list[str] = []

    def check(self) -> None:
        while self.monitor.results and self.model.expected:
            got, want = self.monitor.results.popleft(), self.model.expected.popleft()
            sent = self.driver.sent_cycles.popleft()
            index = self.compared
            self.compared += 1
            if got.cycle - sent != self.design.latency:
                self.mismatches.append(f"module {index}: output {got.cycle - sent} clocks after its "
                                       f"input, the design says {self.design.latency}")
            if (got.sum_code, got.out) != (want.sum_code, want.out):
                self.mismatches.append(f"module {index}: got sum {got.sum_code} out {list(got.out)}, "
                                       f"expected sum {want.sum_code} out {list(want.out)}")

    def assert_clean(self) -> None:
        self.check()
        problems = self.monitor.errors + self.mismatches
        assert not problems, f"{len(problems)} problem(s); first: " + "; ".join(problems[:5])
        assert not self.monitor.results, f"{len(self.monitor.results)} unexpected output(s)"
        assert not self.model.expected, f"{len(self.model.expected)} module(s) produced no output"
        assert not self.driver.sent_cycles, "sent modules left unmatched"


class StreamBench:
    """Driver, monitor, model and scoreboard around one DUT."""

    def __init__(self, dut, ports: Ports, design: Design, weights: WeightSet):
        self.dut, self.ports, self.design = dut, ports, design
        self.cycles = CycleCounter(getattr(dut, ports.clk))
        self.driver = StreamDriver(dut, ports, design, self.cycles)
        self.monitor = OutputMonitor(dut, ports, design, self.cycles)
        self.model = Model(design, weights)
        self.scoreboard = Scoreboard(design, self.driver, self.monitor, self.model)

    async def start(self) -> None:
        clk = getattr(self.dut, self.ports.clk)
        cocotb.start_soon(Clock(clk, CLOCK_NS, unit="ns").start())
        self.driver.idle()
        rst = getattr(self.dut, self.ports.rst_n)
        rst.value = 0
        await ClockCycles(clk, 3)
        rst.value = 1
        await RisingEdge(clk)
        self.cycles.start()
        self.monitor.start()

    async def stream(self, codes: np.ndarray, elinks: int, spacing: int | None = None) -> None:
        """Send `codes` back to back (one per II clocks) and wait until all outputs are out."""
        self.model.push(codes, elinks)
        await self.driver.send(codes, spacing or self.design.ii)
        await self.drain()

    async def drain(self) -> None:
        clk = getattr(self.dut, self.ports.clk)
        await ClockCycles(clk, self.design.latency + 2)
        self.scoreboard.check()
