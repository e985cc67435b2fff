"""Switching activity of every net, measured in a gate-level run, and the power OpenSTA finds
with it (`asicgen gatesim --power`).

How it is measured:

* the mapped netlist is flattened by yosys and every internal net and cell renamed to a plain
  identifier (`rename -hide`, then `rename -enumerate`; ports keep their names), so that
  Verilator's toggle counts and OpenSTA's pins spell every name the same way;
* that netlist, its cells written in place (`asicgen.gate_netlist`, the writer the proof
  covers), is built once with Verilator toggle coverage and run twice, side by side, one run
  per core (verif/tb_gate.py): once programming the image over I2C and reading it back, once
  doing the same and then streaming region modules. Both runs are identical up to the end of
  the read-back, so the difference of their counts is what streaming the modules toggled, and
  the difference of their clock cycles the time it took: toggles per clock of every net while
  the encoder works, I2C idle;
* OpenSTA gives every cell's power at activity 0 and at activity 1; a cell whose output net
  toggles `a` times per clock draws P(0) + a (P(1) - P(0)) (this OpenSTA, Debian 2.0.17,
  crashes in `report_power` once activities are set per pin, so they are applied by
  linearity). The switching power of every net is then its own; the internal power of a
  cell's input transitions is counted at its output's activity.

What still differs from a sign-off power figure: the simulation is zero-delay, so glitches
(a net switching more than once in a clock while its inputs settle) are not counted; there is
no clock tree (the clock net drives every flip-flop pin directly; clock buffers appear after
placement) and no wire capacitance (OpenSTA takes pin capacitances only, without parasitics).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asicgen.cell_models import instances
from asicgen.core.atomic import write_text
from asicgen.core.naming import CLOCK_PERIOD_NS, TOP
from asicgen.core.weights import WeightSet
from asicgen.gate_faults import GATE_SCL_HZ, flatten
from asicgen.gate_netlist import inline_netlist
from asicgen.liberty import Library
from asicgen.sta import Power, cell_powers
from verif.activity import read_toggles, unwind_wide_counts
from verif.flow_check import WRAPPER, top_wrapper_parameters
from verif.runner import Public, SimResult, build_cocotb, run_shards

#: the flattened netlist with plain names with its cells in place
INLINE_FILE = "plain_names_inline.v"
#: the test wrapper's clock and its instance of ae_top (verif/tb_ae_top.sv)
CLOCK = ("tb_ae_top", "clk")
DUT_SCOPE = "tb_ae_top.u_top"
#: every bus bit counted (the mapped netlist keeps the RTL's wide ports); the plain names yosys
#: gives start with an underscore, which Verilator counts only with --coverage-underscore
COVERAGE_MAX_WIDTH = 1 << 16
TESTCASE = "program_read_back_and_stream"
#: how far the cells' power at one activity, found by linearity, may be from OpenSTA's total
LINEARITY_TOLERANCE = 0.01


class GatePowerError(RuntimeError):
    """The activity run or the power analysis failed."""


def _bit_name(connection: str) -> str:
    """A net as Verilator's toggle coverage names its bit: no escape, no space before an index."""
    return connection.lstrip("\\").replace(" ", "")


@dataclass(frozen=True)
class NetActivity:
    """Toggles per clock of every net bit of a netlist while modules stream."""

    per_bit: dict[str, float]
    cycles: int
    modules: int

    def rate(self, bit: str) -> float | None:
        """Toggles per clock of a net bit, None if not counted; a one-bit vector (`wire [0:0] n`)
        is counted as `n[0]` while the netlist reads it as `n`."""
        found = self.per_bit.get(bit)
        return self.per_bit.get(f"{bit}[0]") if found is None else found

    def mean(self, bits: list[str]) -> float:
        known = [r for b in bits if (r := self.rate(b)) is not None]
        return sum(known) / len(known) if known else 0.0


def _counts(path: Path) -> tuple[Counter, int]:
    toggles, cycles = read_toggles(path, CLOCK)
    toggles = unwind_wide_counts(toggles)
    return Counter({bit: n for (scope, bit), n in toggles.items() if scope == DUT_SCOPE}), cycles


def measure_activity(netlist: Path, library: Library, weights: WeightSet, codes: np.ndarray,
                     build: Path) -> tuple[Path, NetActivity, list[SimResult]]:
    """Flatten `netlist` with plain names, build it with toggle coverage and run it twice (see
    the module doc); (the plain-named netlist, the activity of its nets, the two runs)."""
    build = Path(build)
    flat = flatten(netlist, library, build / "flatten", plain_names=True)
    inlined = inline_netlist(flat, library, build / INLINE_FILE).path
    design = weights.design
    built = build_cocotb(sources=[inlined, WRAPPER], toplevel="tb_ae_top", build_dir=build / "sim",
                         parameters=top_wrapper_parameters(design), public=[Public("tb_ae_top", "*")],
                         build_args=["--coverage-toggle", "--coverage-underscore", "--coverage-max-width",
                                     str(COVERAGE_MAX_WIDTH)])
    labels = {"idle": codes[:0], "stream": codes}
    for label, rows in labels.items():
        np.savez(build / f"vectors_{label}.npz", codes=rows)
    # the two runs share the build and nothing else: side by side, one per core
    configs = [{"design": design.to_raw(), "weights": weights.words(), "scl_hz": GATE_SCL_HZ,
                "vectors": build / f"vectors_{label}.npz"} for label in labels]
    results = run_shards(built, test_module="verif.tb_gate", testcase=TESTCASE, test_root=build / "runs",
                         workers=len(labels), configs=configs)
    counts = []
    for k, (label, result) in enumerate(zip(labels, results, strict=True)):
        coverage = build / "runs" / f"shard{k}" / "coverage.dat"
        if result.tests == 0 or result.failed or not coverage.is_file():
            raise GatePowerError(f"the {label} activity run of {netlist} failed or counted nothing; see "
                                 f"{coverage.parent}")
        kept = build / f"coverage_{label}.dat"
        coverage.replace(kept)
        counts.append(_counts(kept))
    (idle, idle_cycles), (stream, stream_cycles) = counts
    cycles = stream_cycles - idle_cycles
    if cycles <= 0 or any(stream[b] < idle[b] for b in idle):
        raise GatePowerError(f"the two activity runs of {netlist} do not share their first part: the "
                             "streaming run counted fewer toggles or clocks than the idle one")
    per_bit = {bit: (stream[bit] - idle[bit]) / cycles for bit in stream}
    return flat, NetActivity(per_bit, cycles, len(codes)), results


@dataclass(frozen=True)
class NetPower:
    """The power of a netlist with per-net activity, beside the same netlist with one activity."""

    per_net: Power
    uniform: Power
    #: cells given their output's measured activity, and those without one (the mean applies)
    measured_cells: int
    unmeasured_cells: int
    activity: NetActivity

    def energy_pj(self, power: Power, ii: int) -> float:
        """Energy per inference: one module every `ii` clocks."""
        return power.total_w * ii * CLOCK_PERIOD_NS * 1e3


_INPUT = re.compile(r"^\s*input\s+(?:\[(\d+):(\d+)\]\s+)?(\S+);")


def _inputs(flat: Path) -> list[str]:
    """The input ports of a netlist yosys wrote."""
    return [found.group(3).lstrip("\\") for line in Path(flat).read_text().splitlines()
            if (found := _INPUT.match(line))]


def _output_bits(flat: Path, library: Library) -> Iterator[tuple[str, bool, list[str]]]:
    """(instance, is a flip-flop or latch, its output net bits) of every cell of `flat`."""
    for inst in instances(flat, library):
        cell = library.cells[inst.cell]
        yield inst.name, cell.state is not None, [b for out in cell.outputs
                                                  if (b := _bit_name(inst.pins.get(out.name, "")))]


def flip_flop_bits(flat: Path, library: Library) -> list[str]:
    return [b for _, state, bits in _output_bits(flat, library) if state for b in bits]


def _output_activity(flat: Path, library: Library, activity: NetActivity) -> dict[str, float | None]:
    """Each cell's activity: the mean over its outputs' nets; None when none was counted."""
    per_cell: dict[str, float | None] = {}
    for name, _, bits in _output_bits(flat, library):
        known = [r for b in bits if (r := activity.rate(b)) is not None]
        per_cell[name] = sum(known) / len(known) if known else None
    return per_cell


def net_power(flat: Path, library: Library, activity: NetActivity, work: Path) -> NetPower:
    """The power of the plain-named `flat` with the measured activity of every net, beside
    OpenSTA's power with the mean activity of its flip-flop outputs on every net.

    This OpenSTA (Debian 2.0.17) crashes in `report_power` once an activity is set per pin, so
    the per-net figure is built by linearity: OpenSTA gives every cell's power at activity 0
    (leakage, and the clock's share of a flip-flop's internal power) and at activity 1; a cell
    whose output net toggles `a` times per clock draws P(0) + a (P(1) - P(0)). The switching
    power of the output net is exact; the internal power of its input transitions is counted at
    the output's activity."""
    per_cell = _output_activity(flat, library, activity)
    uniform_activity = activity.mean(flip_flop_bits(flat, library))
    powers = cell_powers(library.path, flat, TOP, _inputs(flat), Path(work), uniform_activity,
                         "mean of the flip-flop outputs on every net")
    missing = [name for name, a in per_cell.items() if a is None]
    totals = [0.0, 0.0, 0.0]
    for name, zero in powers.at_zero.items():
        one = powers.at_one[name]
        a = per_cell.get(name)
        a = uniform_activity if a is None else a
        totals[0] += zero.internal_w + a * (one.internal_w - zero.internal_w)
        totals[1] += zero.switching_w + a * (one.switching_w - zero.switching_w)
        totals[2] += zero.leakage_w
    check = sum(z.internal_w + z.switching_w + z.leakage_w + uniform_activity
                * (o.internal_w + o.switching_w - z.internal_w - z.switching_w)
                for z, o in ((powers.at_zero[n], powers.at_one[n]) for n in powers.at_zero))
    if abs(check - powers.uniform.total_w) > LINEARITY_TOLERANCE * powers.uniform.total_w:
        raise GatePowerError(f"OpenSTA's power of {flat} is not linear in the activity: its cells at "
                             f"{uniform_activity:.4f} by linearity give {check:.6g} W, its total "
                             f"{powers.uniform.total_w:.6g} W")
    if set(powers.at_zero) != set(per_cell):
        raise GatePowerError(f"OpenSTA reported {len(powers.at_zero):,} cells of {flat}, the netlist has "
                             f"{len(per_cell):,}")
    per_net = Power(totals[0], totals[1], totals[2], sum(totals), uniform_activity,
                    "the activity of every cell's output net, measured at gate level")
    return NetPower(per_net, powers.uniform, len(per_cell) - len(missing), len(missing), activity)


def power_line(power: NetPower, ii: int) -> str:
    return (f"{power.per_net.total_w * 1e3:.2f} mW per net ({power.energy_pj(power.per_net, ii):.1f} pJ per "
            f"inference), {power.uniform.total_w * 1e3:.2f} mW with one activity "
            f"({power.uniform.activity:.4f}) on every net; {power.measured_cells:,} cells measured over "
            f"{power.activity.cycles:,} clocks of {power.activity.modules:,} modules")


def write_activity(path: Path, activity: NetActivity) -> None:
    write_text(path, "".join(f"{bit} {rate:.6f}\n" for bit, rate in sorted(activity.per_bit.items())))
