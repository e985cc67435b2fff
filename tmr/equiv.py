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

from tmr.yosys import YosysError, run_yosys, stage_sources


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
                "modules": {**shared, "gold": gold[top], "gate": gate[top]}}
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
