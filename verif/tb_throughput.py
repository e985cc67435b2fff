"""Streaming throughput testbench: cocotb + Verilator at full rate, checked bit for bit.

A lean counterpart of `verif.stream.StreamBench` for long runs. Everything the
Python side can do before the clock starts is done before it starts: the TC codes
of every module are packed into one integer per module, and the expected outputs
of the bit-exact model (`asicgen.core.golden`) into one integer per module. The
streaming loop is one coroutine that, per clock, awaits one falling edge, keeps the
raw bit strings of the outputs and writes the next packed integer; the comparison
runs after the stream ends. Any X or Z in a sampled output is a failure.

Inputs change and outputs are read at the falling edge, half a clock away from the
edge that samples and updates them, so what is read does not depend on the
simulator's event order: the module written at falling edge k is read back at
falling edge k + latency.

The DUT is the datapath `ae_core` in `tb_throughput_top.sv`, which loads the
weights from a file at time 0 and makes only its streaming ports visible to VPI.
Verilator re-evaluates all logic that depends on a VPI-writable signal on every
`eval()`: cocotb's runner passes `--public-flat-rw`, which makes the weights
writable, and then every clock edge recomputes the whole multiplier array (measured
at II=1: ~170 us per clock with no input changing). The build turns that flag off
again (`verif.runner.run_cocotb` with no other public signal than the wrapper's).
Writes are applied at once (`COCOTB_TRUST_INERTIAL_WRITES=1`, which also selects
cocotb's simulator-side clock): otherwise every write waits for a ReadWrite phase,
one more trigger per clock.

`run_throughput()` builds and runs it; the cocotb side is `stream_at_full_rate`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

from asicgen.core.design import Design
from asicgen.core.image import hex_text
from asicgen.core.naming import CORE_FILES
from asicgen.core.render import Stamp
from asicgen.core.weights import WeightSet
from verif.params import CLOCK_NS, wrapper_parameters
from verif.runner import SimulationError, load_config, run_cocotb
from verif.vectors import expected_words, pack_rows  # noqa: F401  (re-exported)

WRAPPER = Path(__file__).with_name("tb_throughput_top.sv")
TOPLEVEL = "tb_throughput_top"
TRUST_WRITES_ENV = "COCOTB_TRUST_INERTIAL_WRITES"


@dataclass(frozen=True)
class ThroughputResult:
    modules: int
    checked: int
    mismatches: int
    stream_seconds: float
    prepare_seconds: float
    build_seconds: float
    first_mismatches: tuple[str, ...]

    @property
    def modules_per_s(self) -> float:
        return self.modules / self.stream_seconds if self.stream_seconds else 0.0


# -- packing and checking (both sides) ----------------------------------------------


def compare(got: list[str], expected: list[int], limit: int = 5) -> tuple[int, list[str]]:
    """Mismatch count of sampled bit strings against expected words; X/Z or missing is a mismatch."""
    notes: list[str] = []
    mismatches = 0
    for index, want in enumerate(expected):
        text = got[index] if index < len(got) else None
        value = int(text, 2) if text is not None and set(text) <= {"0", "1"} else None
        if value != want:
            mismatches += 1
            if len(notes) < limit:
                shown = text if value is None else hex(value)
                notes.append(f"module {index}: got {shown}, expected {hex(want)}")
    extra = len(got) - len(expected)
    if extra > 0:
        mismatches += extra
        notes.append(f"{extra} output(s) more than modules sent")
    return mismatches, notes


def latency_notes(cycles: list[int], ii: int, latency: int) -> list[str]:
    """Module k is written at falling edge k*ii; its result must be read at k*ii + latency."""
    for k, cycle in enumerate(cycles):
        if cycle != k * ii + latency:
            return [f"module {k}: result {cycle - k * ii} clocks after its input, the design says {latency}"]
    return []


# -- the launching side -------------------------------------------------------------


def _simulate(design: Design, rtl_dir: Path, sim_dir: Path, config: dict, plusargs: list[str],
              optimise: bool) -> float:
    """Build (incrementally, in `sim_dir`) and run the cocotb test; the build's seconds."""
    sources = [Path(rtl_dir) / name for name in CORE_FILES] + [WRAPPER]
    result = run_cocotb(sources=sources, toplevel=TOPLEVEL, test_module="verif.tb_throughput",
                        build_dir=sim_dir, config=config,
                        parameters=wrapper_parameters(design, WRAPPER), optimise=optimise,
                        # the wrapper marks its streaming ports public itself: nothing else is
                        public=[], plusargs=plusargs, extra_env={TRUST_WRITES_ENV: "1"})
    return result.build_seconds


def run_throughput(design: Design, weights: WeightSet, codes: np.ndarray, rtl_dir: Path, build_dir: Path, *,
                   elinks: int | None = None, model_weights: WeightSet | None = None,
                   optimise: bool = True) -> ThroughputResult:
    """Stream `codes` through the datapath of the RTL in `rtl_dir` (as `asicgen generate` writes it),
    one module per II clocks, and check every output.

    `model_weights` (default: `weights`) computes the expected outputs; giving other
    weights than the DUT's shows that the check fails.
    """
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    np.save(build_dir / "codes.npy", np.asarray(codes, dtype=np.int64))
    weights_hex = build_dir / "weights.hex"
    weights_hex.write_text(hex_text(weights.image(), Stamp("throughput", "-", "-"), "weights.hex"))
    report = build_dir / "throughput.json"
    report.unlink(missing_ok=True)
    mode = elinks if elinks is not None else design.default_elinks
    model = model_weights if model_weights is not None else weights
    config = {"design": design.to_raw(), "model_weights": model.words(), "elinks": mode,
              "codes": build_dir / "codes.npy", "report": report}
    plusargs = [f"+weights={weights_hex}", f"+elinks={mode}"]
    sim = build_dir / "sim"
    build_seconds = _simulate(design, rtl_dir, sim, config, plusargs, optimise)
    if not report.exists():
        raise SimulationError(f"the throughput testbench wrote no report; see the logs in {sim}")
    data = json.loads(report.read_text())
    return ThroughputResult(data["modules"], data["checked"], data["mismatches"], data["stream_seconds"],
                            data["prepare_seconds"], build_seconds, tuple(data["first_mismatches"]))


# -- the cocotb side ----------------------------------------------------------------


class Sampler:
    """Raw bit strings of {ae_sum, ae_out} at every falling edge where ae_valid is 1."""

    def __init__(self, dut):
        # one read per clock: the wrapper's `sample` port packs {ae_valid, ae_sum, ae_out}
        self._sample = dut.sample
        self.got: list[str] = []
        self.cycles: list[int] = []
        self.problems: list[str] = []

    def sample(self, cycle: int) -> None:
        bits = str(self._sample.value)
        valid = bits[0]
        if valid == "1":
            self.got.append(bits[1:])
            self.cycles.append(cycle)
        elif valid != "0":
            self.problems.append(f"falling edge {cycle}: ae_valid is {valid}")


async def _reset(dut) -> None:
    dut.tc_valid.value = 0
    dut.tc_in.value = 0
    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    dut.rst_n.value = 0
    await ClockCycles(dut.clk, 3)
    dut.rst_n.value = 1
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)


async def _stream(dut, stimulus: list[int], ii: int, tail: int) -> Sampler:
    """At every falling edge: sample the outputs, then write the next module (one per `ii` clocks)."""
    edge = FallingEdge(dut.clk)
    tc, tc_valid = dut.tc_in, dut.tc_valid
    sampler = Sampler(dut)
    sample = sampler.sample
    cycle = 0
    for word in stimulus:
        for gap in range(ii):
            await edge
            sample(cycle)
            cycle += 1
            if gap == 0:
                tc.value = word
                tc_valid.value = 1
            elif gap == 1:
                tc_valid.value = 0
    for step in range(tail):
        await edge
        sample(cycle)
        cycle += 1
        if step == 0:
            tc_valid.value = 0
    return sampler


@cocotb.test()
async def stream_at_full_rate(dut) -> None:
    """Every module bit-exact against the model, one per II clocks; reports modules/s."""
    config = load_config()
    design = Design.from_raw(config["design"])
    model = WeightSet.from_words(design, np.asarray(config["model_weights"], dtype=np.int64))
    t0 = time.perf_counter()
    codes = np.load(config["codes"])
    stimulus = pack_rows(codes, design.converter.tc_code.bits)
    expected = expected_words(design, model, codes, int(config["elinks"]))
    prepare = time.perf_counter() - t0
    await _reset(dut)
    t1 = time.perf_counter()
    sampler = await _stream(dut, stimulus, design.ii, design.latency + 2)
    stream = time.perf_counter() - t1
    mismatches, notes = compare(sampler.got, expected)
    late = latency_notes(sampler.cycles, design.ii, design.latency)
    notes = sampler.problems + late + notes
    mismatches += len(sampler.problems) + len(late)
    report = {"modules": len(stimulus), "checked": len(sampler.got), "mismatches": mismatches,
              "stream_seconds": stream, "prepare_seconds": prepare, "first_mismatches": notes[:5]}
    Path(config["report"]).write_text(json.dumps(report, indent=1))
    cocotb.log.info("%d modules in %.2f s: %.0f modules/s, %d mismatches", len(stimulus), stream,
                    len(stimulus) / stream, mismatches)
    assert mismatches == 0, "; ".join(notes[:5])
