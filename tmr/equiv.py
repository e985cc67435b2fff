"""Formal check: with no upsets, the hardened design is equivalent to the plain one.

yosys matches the two flattened netlists by net name (`equiv_make`: every
register's original net is, in the hardened design, its voter's output), merges
identical structure, and proves the remaining equivalences by SAT and by
induction over one clock (`equiv_simple`, `equiv_induct`): if all matched nets
agree now, they agree after the next edge, where the three copies of every
register have loaded the same value. Asynchronous resets are modelled as
synchronous for the proof (`async2sync`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tmr.commonmode import attribute_int
from tmr.yosys import YosysError, run_yosys, stage_sources

Bit = int | str


@dataclass(frozen=True)
class EquivResult:
    proven: int
    unproven: int
    log: str


def equivalence(plain_sources: Sequence[Path], hardened: Path, top: str, workdir: Path,
                added_port: str | None = None) -> EquivResult:
    """`added_port`: an error output the TMR pass added (RTL without a hook); the plain side
    gets it as a constant 0, which is what the hardened one must show with no upsets."""
    workdir = Path(workdir)
    staged = stage_sources([*plain_sources, hardened], workdir)
    plain, gate = staged[:-1], staged[-1]
    files = " ".join(f'"{s}"' for s in plain)
    script = "\n".join([
        f"read_verilog -sv {files}", f"hierarchy -check -top {top}", "proc", "flatten", "memory -nomap",
        "memory_map", "opt_clean", "async2sync", f"rename {top} gold",
        *([f"add -output {added_port} 1 gold", f"connect -set {added_port} 1'b0"] if added_port else []),
        "design -save gold_design",
        "design -reset",
        # the domain voters and buffers are kept as modules for synthesis: flattened here
        f'read_verilog "{gate}"', f"hierarchy -top {top}", "proc", "setattr -mod -unset keep_hierarchy",
        "flatten", "opt_clean", "async2sync",
        f"rename {top} gate", "design -save gate_design", "design -reset",
        "design -copy-from gold_design gold", "design -copy-from gate_design gate",
        "equiv_make gold gate equiv", "hierarchy -top equiv", "equiv_struct", "equiv_simple -seq 2",
        "equiv_induct", "equiv_status",
    ]) + "\n"
    try:
        log = run_yosys(script, workdir, "equiv.log")
    except YosysError as exc:
        raise YosysError(f"equivalence check could not run: {exc}") from None
    return _summary(log, workdir)


def netlist_equivalence(gold_json: Path, gate_json: Path, top: str, workdir: Path,
                        added_port: str | None = None) -> EquivResult:
    """The same proof on the netlists before and after the TMR pass (yosys JSON).

    The logic around the registers is then cell for cell the same, with the same internal
    net names: matching those too (`-inames`) and merging identical cells
    (`equiv_struct -icells`) leaves each proof a cone of a few cells (`equiv_simple
    -short`), so large datapaths prove quickly. Stateless submodules the netlists still
    instantiate must be identical on both sides (checked here); the proof then treats
    them as the same uninterpreted function of their inputs, which is sound for any
    function, so for theirs."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    gold = json.loads(Path(gold_json).read_text())["modules"]
    gate = json.loads(Path(gate_json).read_text())["modules"]
    shared = _shared_submodules(gold, gate, top)
    combined = {"creator": "asicgen tmr.equiv",
                "modules": {**shared, "gold": gold[top], "gate": collapse_domains(gate[top])}}
    (workdir / "combined.json").write_text(json.dumps(combined))
    script = "\n".join([
        'read_json "combined.json"', "async2sync",
        *(["cd gold", f"add -output {added_port} 1", f"connect -set {added_port} 1'b0", "cd"]
          if added_port else []),
        "equiv_make -inames gold gate equiv", "hierarchy -top equiv", "equiv_struct -icells",
        "equiv_simple -short -seq 2", "equiv_induct", "equiv_status",
    ]) + "\n"
    log = run_yosys(script, workdir, "equiv.log")
    return _summary(log, workdir)


def collapse_domains(module: dict[str, Any]) -> dict[str, Any]:
    """A fully triplicated netlist folded onto domain 0, as the one-voter scheme it refines.

    Domains 1 and 2 hold copies of domain 0's next-state logic, voters, pad buffers and error
    logic, each marked with its domain and what it copies (`tmr_domain`, `tmr_copy_of`,
    `tmr_voter_of`, `tmr_fanout`, `tmr_hook_port`). Removing those cells and letting every
    reader of one of their outputs read domain 0's twin instead leaves three replicas loading
    domain 0's next state: the structure the equivalence check proves by induction. The fold
    is sound because translation validation (`tmr.proof`) checks, cell by cell, that every
    copy reads its original's inputs as its own domain names them and that every domain voter
    is a majority of the same three replicas, so each domain computes domain 0's values. A
    net that reads a removed cell with no twin is refused. A netlist without domains is
    returned as it is."""
    cells = module["cells"]

    def domain(cell: dict[str, Any]) -> int:
        return attribute_int(cell.get("attributes", {}).get("tmr_domain")) or 0

    removed = {n for n, c in cells.items() if domain(c)}
    if not removed:
        return module
    twin_of: dict[Bit, Bit] = {}
    voters = {c["attributes"]["tmr_voter_of"]: c["connections"]["Y"] for c in cells.values()
              if not domain(c) and "tmr_voter_of" in c.get("attributes", {})}
    hook_drives = {c["attributes"]["tmr_hook_port"]: c["connections"]["Y"] for c in cells.values()
                   if not domain(c) and "tmr_hook_port" in c.get("attributes", {})}
    for name in sorted(removed):
        cell = cells[name]
        attributes = cell["attributes"]
        if "tmr_copy_of" in attributes:
            original = cells[str(attributes["tmr_copy_of"])]
            directions = original.get("port_directions", {})
            outputs = [p for p in original["connections"] if directions.get(p) == "output"]
            pairs = [(b, a) for port in outputs
                     for a, b in zip(original["connections"][port], cell["connections"][port], strict=True)]
        elif "tmr_voter_of" in attributes:
            pairs = list(zip(cell["connections"]["Y"], voters[attributes["tmr_voter_of"]], strict=True))
        elif "tmr_fanout" in attributes:
            pairs = list(zip(cell["connections"]["Y"], cell["connections"]["A"], strict=True))
        elif "tmr_hook_port" in attributes:
            pairs = list(zip(cell["connections"]["Y"], hook_drives[attributes["tmr_hook_port"]], strict=True))
        else:
            continue  # a domain's own comparators and flags: read only by its own removed cells
        twin_of.update(pairs)
    orphans = {b for n in removed for p, bits in cells[n]["connections"].items()
               if cells[n].get("port_directions", {}).get(p) == "output" for b in bits} - set(twin_of)
    kept: dict[str, Any] = {}
    for name, cell in cells.items():
        if name in removed:
            continue
        connections = {p: [twin_of.get(b, b) for b in bits] for p, bits in cell["connections"].items()}
        reads = {b for bits in connections.values() for b in bits} & orphans
        if reads:
            raise YosysError(f"cannot fold the domains onto domain 0: cell {name} reads a domain-1/2 net "
                             f"with no domain-0 twin (bit {min(reads, key=str)})")
        kept[name] = {**cell, "connections": connections}
    netnames = {n: {**net, "bits": [twin_of.get(b, b) for b in net["bits"]]}
                for n, net in module["netnames"].items()
                if not attribute_int(net.get("attributes", {}).get("tmr_domain"))}
    for port in module["ports"].values():
        if set(port["bits"]) & orphans:
            raise YosysError("cannot fold the domains onto domain 0: a port reads a domain-1/2 net")
    return {**module, "cells": kept, "netnames": netnames}


def _shared_submodules(gold: dict, gate: dict, top: str) -> dict:
    """The modules both tops instantiate; refuses a submodule that differs between them."""
    for side, modules in (("plain", gold), ("hardened", gate)):
        if top not in modules:
            raise YosysError(f"the {side} netlist has no module {top!r}")
    names = (set(gold) | set(gate)) - {top}
    for name in sorted(names):
        if name not in gold or name not in gate:
            side = "plain" if name in gold else "hardened"
            raise YosysError(f"submodule {name!r} is only in the {side} netlist")
        if _logic(gold[name]) != _logic(gate[name]):
            raise YosysError(f"submodule {name!r} differs between the plain and the hardened netlist")
    return {name: gold[name] for name in sorted(names)}


def _logic(module: dict) -> tuple:
    """What a module computes: its ports and cells (not attributes such as source lines)."""
    cells = {n: (c["type"], c.get("parameters"), c["connections"]) for n, c in module["cells"].items()}
    return module["ports"], cells


def _summary(log: str, workdir: Path) -> EquivResult:
    found = re.findall(r"Found (\d+) \$equiv cells in .*?:\s*\n\s*Of those cells (\d+) are proven and (\d+) "
                       r"are unproven", log)
    if not found:
        raise YosysError(f"equivalence check: no equiv_status summary in {workdir / 'equiv.log'}")
    _, proven, unproven = map(int, found[-1])
    return EquivResult(proven, unproven, log)
