"""Static timing and power of a mapped netlist with OpenSTA (`sta`, Debian package `opensta`).

Constraints (`constraints`): one clock, `clk`, at the design's clock period; no separate I2C
clock domain exists, because SCL and SDA are sampled by `clk` through two-flop synchronisers,
so paths from `scl_i`/`sda_i` (asynchronous) and from the `i2c_addr` strap and `rst_n`
(asynchronous reset; recovery not analysed) are false paths. The other inputs arrive
`INPUT_DELAY_NS` after the clock edge and the outputs are due `OUTPUT_DELAY_NS` before the
next one: the trigger-cell data come from registers of the concentrator and the encoder's
outputs go to registers of its formatter, both clocked by `clk`.

Power (`report_power`) needs switching activity. This OpenSTA (2.0.17) applies one global
activity to every net (input activities are not propagated through the logic), so the
caller gives one number measured in simulation: the mean toggle rate per clock of the
datapath's flip-flops (Verilator toggle coverage of a bulk run of the trained weights on
region data), scaled by the datapath's share of the cell area, the register file and I2C
target being idle while modules stream (`verif.activity.Activity.global_rate`). Every
combinational net is taken to switch as often as the average datapath register: no
glitches, no per-net activity.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from asicgen.core.naming import CLOCK_MHZ, CLOCK_PERIOD_NS

INPUT_DELAY_NS = 0.0
OUTPUT_DELAY_NS = 0.0
#: top-level inputs that are not timed: asynchronous (I2C pads, reset) or static (address strap)
FALSE_PATH_INPUTS = ("scl_i", "sda_i", "i2c_addr", "rst_n")
CLOCK_PORT = "clk"


class StaError(RuntimeError):
    """OpenSTA is missing or failed."""


@dataclass(frozen=True)
class Timing:
    period_ns: float
    arrival_ns: float
    slack_ns: float
    startpoint: str
    endpoint: str
    path: str

    @property
    def met(self) -> bool:
        return self.slack_ns >= 0


@dataclass(frozen=True)
class Power:
    internal_w: float
    switching_w: float
    leakage_w: float
    total_w: float
    #: the global activity OpenSTA applied, and how it was obtained
    activity: float
    how: str


def find_sta() -> str | None:
    return shutil.which("sta")


def constraints(top_inputs: list[str]) -> str:
    timed = [p for p in top_inputs if p not in (*FALSE_PATH_INPUTS, CLOCK_PORT)]
    lines = [f"create_clock -name clk -period {CLOCK_PERIOD_NS:g} [get_ports {CLOCK_PORT}]",
             f"set_input_delay {INPUT_DELAY_NS:g} -clock clk [get_ports {{{' '.join(timed)}}}]",
             f"set_output_delay {OUTPUT_DELAY_NS:g} -clock clk [all_outputs]"]
    lines += [f"set_false_path -from [get_ports {p}]" for p in FALSE_PATH_INPUTS if p in top_inputs]
    return "\n".join(lines) + "\n"


def sta_script(liberty: Path, netlist: Path, top: str, top_inputs: list[str],
               activity: float | None) -> str:
    lines = [f"read_liberty {liberty}", f"read_verilog {netlist}", f"link_design {top}",
             constraints(top_inputs).rstrip(),
             "report_checks -path_delay max -digits 3 -fields {fanout}",
             "puts \"@@power\""]
    if activity is not None:
        lines += [f"set_power_activity -global -activity {activity:.6f}", "report_power -digits 6"]
    return "\n".join(lines) + "\n"


def _run_script(text: str, script: Path, netlist: Path) -> str:
    """Run an OpenSTA script written to `script` (its log beside it, sta.log); its output."""
    sta = find_sta()
    if sta is None:
        raise StaError("OpenSTA (`sta`) not found: install the Debian package opensta")
    script.write_text(text)
    run = subprocess.run([sta, "-no_splash", "-exit", str(script)], capture_output=True, text=True)
    log = script.with_name("sta.log")
    log.write_text(run.stdout + run.stderr)
    if run.returncode != 0 or re.search(r"^Error", run.stdout + run.stderr, re.MULTILINE):
        tail = "\n".join((run.stdout + run.stderr).splitlines()[-20:])
        raise StaError(f"OpenSTA failed on {netlist} (log {log}):\n{tail}")
    return run.stdout


def run_sta(liberty: Path, netlist: Path, top: str, top_inputs: list[str], work: Path,
            activity: float | None = None, how: str = "") -> tuple[Timing, Power | None]:
    stdout = _run_script(sta_script(liberty, netlist, top, top_inputs, activity), work / "sta.tcl", netlist)
    timing_text, _, power_text = stdout.partition("@@power")
    timing = parse_timing(timing_text)
    power = parse_power(power_text, activity, how) if activity is not None else None
    return timing, power


@dataclass(frozen=True)
class CellPower:
    internal_w: float
    switching_w: float
    leakage_w: float


@dataclass(frozen=True)
class CellPowers:
    """`report_power -instances` of every cell at global activity 0 and 1, and the design's
    total at one global activity."""

    at_zero: dict[str, CellPower]
    at_one: dict[str, CellPower]
    uniform: Power


_INSTANCE_POWER = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+\S+\s+(\S+)\s*$")


def _instance_powers(text: str) -> dict[str, CellPower]:
    powers = {}
    for line in text.splitlines():
        found = _INSTANCE_POWER.match(line)
        if found is None:
            continue
        try:
            internal, switching, leakage = (float(found.group(i)) for i in (1, 2, 3))
        except ValueError:
            continue  # the header
        powers[found.group(4)] = CellPower(internal, switching, leakage)
    return powers


def cell_powers(liberty: Path, netlist: Path, top: str, top_inputs: list[str], work: Path,
                uniform_activity: float, how: str) -> CellPowers:
    """The power of every cell of `netlist` at global activity 0 and 1 (this OpenSTA crashes in
    `report_power` once activities are set per pin, so a caller applies its own per-net
    activities by linearity), and the total at `uniform_activity` on every net."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    lines = [f"read_liberty {liberty}", f"read_verilog {netlist}", f"link_design {top}",
             constraints(top_inputs).rstrip()]
    for activity in (0, 1):
        lines += [f"set_power_activity -global -activity {activity}", f"puts \"@@{activity}\"",
                  "report_power -instances [get_cells *] -digits 9"]
    lines += [f"set_power_activity -global -activity {uniform_activity:.6f}", "puts \"@@power\"",
              "report_power -digits 6"]
    stdout = _run_script("\n".join(lines) + "\n", work / "power.tcl", netlist)
    _, _, rest = stdout.partition("@@0")
    zero, _, rest = rest.partition("@@1")
    one, _, total = rest.partition("@@power")
    uniform = parse_power(total, uniform_activity, how)
    return CellPowers(_instance_powers(zero), _instance_powers(one), uniform)


_FLOAT = r"(-?[0-9.]+(?:e[-+]?[0-9]+)?)"


def parse_timing(text: str) -> Timing:
    arrival = re.search(rf"^\s*{_FLOAT}\s+data arrival time", text, re.MULTILINE)
    slack = re.search(rf"^\s*{_FLOAT}\s+slack \((MET|VIOLATED)\)", text, re.MULTILINE)
    start = re.search(r"^Startpoint: (\S+)", text, re.MULTILINE)
    end = re.search(r"^Endpoint: (\S+)", text, re.MULTILINE)
    if not (arrival and slack and start and end):
        raise StaError("OpenSTA printed no complete timing path (report_checks)")
    return Timing(CLOCK_PERIOD_NS, float(arrival.group(1)), float(slack.group(1)), start.group(1),
                  end.group(1),
                  text.strip())


def parse_power(text: str, activity: float, how: str) -> Power:
    total = re.search(rf"^Total\s+{_FLOAT}\s+{_FLOAT}\s+{_FLOAT}\s+{_FLOAT}", text, re.MULTILINE)
    if total is None:
        raise StaError("OpenSTA printed no power total (report_power)")
    internal, switching, leakage, whole = (float(total.group(i)) for i in range(1, 5))
    return Power(internal, switching, leakage, whole, activity, how)


def to_raw(timing: Timing | None, power: Power | None) -> dict[str, Any]:
    """Both keys always: None for what was not run (a synthesis without activity has no power)."""
    return {"timing": None if timing is None
            else {k: v for k, v in asdict(timing).items() if k != "path"} | {"met": timing.met},
            "power": None if power is None else asdict(power)}


def constraint_notes() -> list[str]:
    """The timing constraints in words, for reports."""
    return [f"clock `{CLOCK_PORT}` at {CLOCK_PERIOD_NS:g} ns ({CLOCK_MHZ} MHz), ideal (no clock tree)",
            f"data inputs arrive {INPUT_DELAY_NS:g} ns after the edge, outputs are due "
            f"{OUTPUT_DELAY_NS:g} ns before the next one (registers on both sides, clocked by `clk`)",
            "no I2C clock domain: SCL/SDA are sampled by `clk` through two-flop synchronisers, so "
            f"{', '.join(f'`{p}`' for p in FALSE_PATH_INPUTS)} (asynchronous pads, reset, address strap) "
            "are false paths",
            "the library's typical corner as the .lib gives it; no wire load, no placement"]
