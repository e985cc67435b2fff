"""Single-event transients (SET): the fault-injection build of a hardened netlist.

A transient is a wrong value on one net for a moment; it matters when a flip-flop samples
it, so the campaign makes it at a clock edge. The fault-injection build is the netlist
the TMR pass wrote (its yosys JSON, from which the shipped Verilog is written, with the
same `write_script`, in one module) with, on each chosen net, an XOR between the net's driver and its
readers whose other input is one bit of a new input port `set_mask`: raising bit i
inverts net i for as long as it is high. The test wrapper (`verif.seu_wrapper`) raises
one bit a little before a rising edge and lowers it after the edge, so every flip-flop
whose next value depends on the net samples it inverted: a transient that covers the
latching window, the case that counts (SPEC section 9, `docs/tmr.md`).

Injection points are drawn at random from the netlist's combinational nets, per class,
from the structure alone (`tmr.commonmode.copy_cones`):

* `voter`: the nets of voters, inner nodes and outputs (the domain voters of `full`
  registers, the voters of `full-shared` and `pipeline` registers);
* `domain 0`, `domain 1`, `domain 2`: nets in the next-state logic of copy k of the state
  registers and of no other copy (with full module triplication, domain k's logic);
* `common-mode`: nets in the next-state logic of two or three copies of one register (the
  one-voter scheme's shared logic; none with full module triplication);
* `datapath`: every other net (the pipeline's logic, the error logic).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tmr.commonmode import copy_cones, net_names
from tmr.flow import Hardened, harden_sources, wrap_verilog, write_script
from tmr.netlist import Module
from tmr.policy import Policy
from tmr.transform import cell_kind
from tmr.yosys import run_yosys

#: the input port of the fault-injection build: bit i inverts injection point i
SET_PORT = "set_mask"
CLASSES = ("voter", "domain 0", "domain 1", "domain 2", "common-mode", "datapath")


@dataclass(frozen=True)
class SetPoint:
    """One net of the fault-injection build: its index (bit of `set_mask`), a readable name
    and its class."""

    index: int
    net: str
    net_class: str

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> SetPoint:
        return cls(int(raw["index"]), str(raw["net"]), str(raw["net_class"]))

    def to_raw(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SetBuild:
    """A fault-injection build: the netlist, its points and how many nets each class has."""

    netlist: Path
    points: list[SetPoint]
    population: dict[str, int]
    hardened: Hardened


def classify(module: dict[str, Any]) -> dict[int, str]:
    """The class of every bit a combinational cell drives (module docstring)."""
    cones = copy_cones(module)
    classes: dict[int, str] = {}
    for name, cell in module["cells"].items():
        if cell_kind(cell["type"]) == "ff":
            continue
        voter = "__vote" in name or "tmr_voter_of" in cell.get("attributes", {})
        directions = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            if directions.get(port) != "output":
                continue
            for bit in bits:
                if isinstance(bit, str):
                    continue
                copies = cones.get(bit, frozenset())
                classes[bit] = ("voter" if voter else "datapath" if not copies
                                else "common-mode" if len(copies) > 1 else f"domain {min(copies)}")
    return classes


def choose_points(classes: dict[int, str], per_class: int, seed: int) -> dict[str, list[int]]:
    """Up to `per_class` bits of each class, at random (sorted, so the build is reproducible)."""
    rng = random.Random(seed)
    chosen: dict[str, list[int]] = {}
    for net_class in CLASSES:
        bits = sorted(b for b, c in classes.items() if c == net_class)
        chosen[net_class] = sorted(rng.sample(bits, min(per_class, len(bits))))
    return chosen


def instrument(module: Module, bits: Sequence[int]) -> None:
    """An XOR with bit i of a new input port `set_mask` between the driver of `bits[i]` and its
    readers: the driver now drives a new bit, the XOR drives the original one."""
    mask = module.new_bits(len(bits))
    module.ports[SET_PORT] = {"direction": "input", "bits": mask}
    module.add_net(SET_PORT, mask)
    targets = set(bits)
    fresh: dict[int, int] = {}
    for cell in module.cells.values():
        directions = cell.get("port_directions", {})
        for port, connected in cell["connections"].items():
            if directions.get(port) != "output":
                continue
            for i, bit in enumerate(connected):
                if bit in targets:
                    fresh[bit] = module.new_bits(1)[0]
                    connected[i] = fresh[bit]
    for i, bit in enumerate(bits):
        module.add_cell(f"set_inject_{i}", "$xor",
                        {"A_SIGNED": 0, "B_SIGNED": 0, "A_WIDTH": 1, "B_WIDTH": 1, "Y_WIDTH": 1},
                        {"A": [fresh[bit]], "B": [mask[i]], "Y": [bit]},
                        {"A": "input", "B": "input", "Y": "output"}, {"keep": 1})


def set_build(sources: Sequence[Path], policy: Policy, work: Path, per_class: int, seed: int,
              top: str = "ae_top") -> SetBuild:
    """Harden `sources` with `policy` (proof included), choose the injection points and write the
    fault-injection netlist `work`/set_<top>.v."""
    work = Path(work)
    hardened = harden_sources(sources, policy, top, work / "harden")
    design = json.loads((work / "harden" / "hardened.json").read_text())
    raw = design["modules"][top]
    classes = classify(raw)
    names = net_names(raw)
    chosen = choose_points(classes, per_class, seed)
    ordered = [(c, b) for c in CLASSES for b in chosen[c]]
    points = [SetPoint(i, names.get(b, f"bit {b}"), c) for i, (c, b) in enumerate(ordered)]
    instrument(Module(top, raw), [b for _, b in ordered])
    for cell in raw["cells"].values():
        # one module: the shipped netlist keeps each domain voter a module of its own for
        # synthesis (`write_script`), and splitting a voter around an XOR on an inner node
        # would wire the module's ports wrongly; the logic is the same either way
        cell.get("attributes", {}).pop("submod", None)
    (work / "set.json").write_text(json.dumps(design))
    run_yosys(write_script("set.json", "set_raw.v"), work, "set_write.log")
    netlist = work / f"set_{top}.v"
    netlist.write_text(wrap_verilog((work / "set_raw.v").read_text()))
    population = {c: sum(1 for v in classes.values() if v == c) for c in CLASSES}
    return SetBuild(netlist, points, population, hardened)
