"""Read RTL with yosys, triplicate, write Verilog back, and report."""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asicgen.atomic import write_text
from tmr.netlist import Module
from tmr.policy import Policy
from tmr.transform import Report, TmrError, cell_kind, harden, replica_base
from tmr.yosys import run_yosys, stage_sources


@dataclass(frozen=True)
class Hardened:
    top: str
    verilog: str
    report: Report


def read_script(sources: Sequence[str], top: str | None, policy: Policy, out_json: str) -> str:
    """Elaborate the RTL (hierarchy kept) and write it as yosys JSON."""
    files = " ".join(f'"{s}"' for s in sources)
    lines = [f"read_verilog -sv {files}",
             f"hierarchy -check -top {top}" if top else "hierarchy -check -auto-top"]
    if policy.hook:
        lines.append(f"blackbox {policy.hook.cell_type}")
    lines += ["proc", f"write_json {out_json}"]
    return "\n".join(lines) + "\n"


def flatten_script(in_json: str, kept: Sequence[str], out_json: str) -> str:
    """Flatten everything but the stateless submodules, which stay instances."""
    lines = [f'read_json "{in_json}"']
    if kept:
        lines.append(f"setattr -mod -set keep_hierarchy 1 {' '.join(kept)}")
    lines += ["flatten", "memory -nomap", "memory_map", "opt_clean", f"write_json {out_json}"]
    return "\n".join(lines) + "\n"


def _top_name(design: dict, top: str | None) -> str:
    tops = [name for name, m in design["modules"].items() if m.get("attributes", {}).get("top")]
    return top or (tops[0] if tops else next(iter(design["modules"])))


def stateless_modules(design: dict, top: str) -> list[str]:
    """Modules below `top` holding no state at any depth: only combinational cells and
    instances of other such modules (no flip-flop, latch, memory, tri-state or black box).

    They carry nothing to triplicate, so they stay instances in the hardened netlist:
    synthesis then builds each variant once, and the equivalence proof treats them as
    the same uninterpreted function on both sides."""
    modules = design["modules"]
    known: dict[str, bool] = {}

    def stateless(name: str) -> bool:
        if name not in known:
            known[name] = False  # a recursive instantiation is not stateless
            module = modules.get(name)
            known[name] = bool(module) and not module.get("attributes", {}).get("blackbox") and all(
                cell_kind(c["type"]) == "comb" or (c["type"] in modules and stateless(c["type"]))
                for c in module["cells"].values())
        return known[name]

    return sorted(n for n in modules if n != top and stateless(n))


def readable_module_name(name: str) -> str:
    """A plain identifier for a parameterised module (`$paramod$<sha1>\\ae_dot` becomes
    `ae_dot__<8 hex digits>`); the digits come from the name, so they are stable."""
    if not name.startswith("$paramod"):
        return name
    base = re.sub(r"[^A-Za-z0-9_]", "_", name.split("\\")[1])
    return f"{base}__{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def rename_modules(design: dict, names: dict[str, str]) -> None:
    design["modules"] = {names.get(n, n): m for n, m in design["modules"].items()}
    for module in design["modules"].values():
        for cell in module["cells"].values():
            cell["type"] = names.get(cell["type"], cell["type"])


def flat_netlist(sources: Sequence[Path], top: str | None, policy: Policy, workdir: Path,
                 inline: frozenset[str] = frozenset()) -> tuple[dict, Module, list[str]]:
    """The design flattened except for its stateless submodules (yosys JSON), its top
    module, and the names of the submodules it still instantiates. `inline`: modules to
    flatten even when stateless."""
    staged = stage_sources(sources, workdir)
    run_yosys(read_script(staged, top, policy, "elaborated.json"), workdir, "read.log")
    design = json.loads((workdir / "elaborated.json").read_text())
    name = _top_name(design, top)
    kept = [n for n in stateless_modules(design, name) if n not in inline]
    names = {n: readable_module_name(n) for n in kept}
    rename_modules(design, names)
    (workdir / "renamed.json").write_text(json.dumps(design))
    kept = sorted(names.values())
    run_yosys(flatten_script("renamed.json", kept, "plain.json"), workdir, "flatten.log")
    design = json.loads((workdir / "plain.json").read_text())
    used = _instantiated(design, name)
    design["modules"] = {n: m for n, m in design["modules"].items() if n == name or n in used}
    for kept_name in used:  # it only steered `flatten`; written out, it would steer the user's flow
        design["modules"][kept_name].get("attributes", {}).pop("keep_hierarchy", None)
    (workdir / "plain.json").write_text(json.dumps(design))
    return design, Module(name, design["modules"][name]), sorted(used & set(kept))


def _instantiated(design: dict, top: str) -> set[str]:
    """Every module instantiated below `top`, at any depth."""
    modules = design["modules"]
    found: set[str] = set()
    pending = [top]
    while pending:
        for cell in modules[pending.pop()]["cells"].values():
            if cell["type"] in modules and cell["type"] not in found:
                found.add(cell["type"])
                pending.append(cell["type"])
    return found


def harden_sources(sources: Sequence[Path], policy: Policy, top: str | None = None,
                   workdir: Path | None = None) -> Hardened:
    with tempfile.TemporaryDirectory(prefix="asicgen-tmr-") as tmp:
        work = Path(workdir or tmp)
        design, module, submodules = flat_netlist(sources, top, policy, work)
        report = harden(module, policy, frozenset(submodules))
        if policy.hook:
            design["modules"].pop(policy.hook.cell_type, None)
        (work / "hardened.json").write_text(json.dumps(design))
        run_yosys("read_json hardened.json\nwrite_verilog hardened.v\n", work, "write.log")
        return Hardened(module.name, (work / "hardened.v").read_text(), report)


def report_markdown(hardened: Hardened) -> str:
    r = hardened.report
    lines = [f"# TMR report: {hardened.top}", "",
             f"* registers triplicated: {len(r.triplicated)} ({r.protected_bits} bits), voters inserted: "
             f"{r.voters}",
             f"* registers left single: {len(r.single)} ({r.single_bits} bits)",
             f"* flip-flop bits: {r.bits_before} -> {r.bits_after} "
             f"(x{r.bits_after / max(r.bits_before, 1):.2f})",
             "* error classes (voters per class): "
             + ", ".join(f"{cls} {n}" for cls, n in r.error_classes.items()), "",
             "| register | bits | policy | class | replicas | source |", "|---|---|---|---|---|---|"]
    for reg in r.triplicated:
        base = replica_base(reg.name)
        lines.append(f"| `{reg.name}` | {reg.width} | {reg.policy} | {reg.error_class} | "
                     f"`{base}__tmr0..2` | {reg.source} |")
    for reg in r.single:
        lines.append(f"| `{reg.name}` | {reg.width} | none | - | - | {reg.source} |")
    return "\n".join(lines) + "\n"


def write_hardened(hardened: Hardened, out: Path, header: str = "") -> None:
    write_text(out, header + hardened.verilog)
    write_text(out.with_suffix(".tmr.md"), report_markdown(hardened))


def generate_hardened_top(rtl_dir: Path, out_dir: Path, design, command: str) -> Hardened:
    """Harden the generated ae_top in `rtl_dir` (asicgen generate --tmr) into `out_dir`."""
    from asicgen import __version__
    from asicgen.render import Stamp, write_tree
    from asicgen.rtl import FILE_ORDER, TOP_FILE
    from tmr.policy import ae_top_policy

    hardened = harden_sources([Path(rtl_dir) / name for name in FILE_ORDER], ae_top_policy(),
                              Path(TOP_FILE).stem)
    stamp = Stamp(f"TMR-hardened {hardened.top}: {design.summary()}", design.digest(), command)
    files = {"ae_top.v": stamp.header("ae_top.v") + hardened.verilog,
             "tmr_report.md": report_markdown(hardened)}
    write_tree(Path(out_dir), files, {"tool": f"asicgen {__version__}", "kind": "rtl_tmr",
                                      "design": design.to_raw(), "design_sha256": design.digest(),
                                      "ii": design.ii, "latency": design.latency, "top": hardened.top,
                                      "file_order": ["ae_top.v"], "command": command})
    return hardened


def check_survival(flops_after_synthesis: int, report: Report) -> str:
    """Every replica must survive logic synthesis: a synthesised hardened netlist holds
    exactly 3 x protected + single flip-flop bits. Returns the line for the report."""
    expected = report.bits_after
    line = (f"flip-flops after synthesis: {flops_after_synthesis:,} = 3 x {report.protected_bits:,} "
            f"protected + {report.single_bits:,} single")
    if flops_after_synthesis != expected:
        raise TmrError(f"synthesis kept {flops_after_synthesis:,} flip-flops, the hardened netlist has "
                       f"{expected:,} (3 x {report.protected_bits:,} + {report.single_bits:,}): "
                       "replicas were merged or removed")
    return line


def prove_hardening(sources: Sequence[Path], policy: Policy, top: str, workdir: Path):
    """Harden, then prove the hardened netlist equivalent to the plain one with no upsets.

    The plain side keeps the hook module's own logic (no errors reported); the hardened
    side has the voters' flags in its place."""
    from dataclasses import replace as _replace

    from tmr.equiv import netlist_equivalence

    workdir = Path(workdir)
    hardened = harden_sources(sources, policy, top, workdir / "harden")
    plain_policy = _replace(policy, hook=None)
    hook = frozenset({policy.hook.cell_type}) if policy.hook else frozenset()
    flat_netlist(sources, top, plain_policy, workdir / "plain", inline=hook)
    gate = workdir / "harden" / "hardened.json"
    added = None if policy.hook else policy.error_port
    result = netlist_equivalence(workdir / "plain" / "plain.json", gate, top, workdir / "equiv", added)
    return hardened, result
