"""Read RTL with yosys, triplicate, write Verilog back, and report."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asicgen.atomic import write_text
from tmr.netlist import Module
from tmr.policy import Policy
from tmr.transform import Report, harden, replica_base
from tmr.yosys import run_yosys, stage_sources


@dataclass(frozen=True)
class Hardened:
    top: str
    verilog: str
    report: Report


def read_script(sources: Sequence[str], top: str | None, policy: Policy, out_json: str) -> str:
    files = " ".join(f'"{s}"' for s in sources)
    lines = [f"read_verilog -sv {files}",
             f"hierarchy -check -top {top}" if top else "hierarchy -check -auto-top"]
    if policy.hook:
        lines.append(f"blackbox {policy.hook.cell_type}")
    lines += ["proc", "flatten", "memory -nomap", "memory_map", "opt_clean", f"write_json {out_json}"]
    return "\n".join(lines) + "\n"


def flat_netlist(sources: Sequence[Path], top: str | None, policy: Policy,
                 workdir: Path) -> tuple[dict, Module]:
    staged = stage_sources(sources, workdir)
    run_yosys(read_script(staged, top, policy, "plain.json"), workdir, "read.log")
    design = json.loads((workdir / "plain.json").read_text())
    tops = [name for name, m in design["modules"].items() if m.get("attributes", {}).get("top")]
    name = top or (tops[0] if tops else next(iter(design["modules"])))
    return design, Module(name, design["modules"][name])


def harden_sources(sources: Sequence[Path], policy: Policy, top: str | None = None,
                   workdir: Path | None = None) -> Hardened:
    with tempfile.TemporaryDirectory(prefix="asicgen-tmr-") as tmp:
        work = Path(workdir or tmp)
        design, module = flat_netlist(sources, top, policy, work)
        report = harden(module, policy)
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
                                      "design": design.to_raw(), "command": command})
    return hardened


def prove_hardening(sources: Sequence[Path], policy: Policy, top: str, workdir: Path):
    """Harden, then prove the hardened netlist equivalent to the plain one with no upsets.

    The plain side keeps the hook module's own logic (no errors reported); the hardened
    side has the voters' flags in its place."""
    from dataclasses import replace as _replace

    from tmr.equiv import netlist_equivalence

    workdir = Path(workdir)
    hardened = harden_sources(sources, policy, top, workdir / "harden")
    plain_policy = _replace(policy, hook=None)
    flat_netlist(sources, top, plain_policy, workdir / "plain")
    gate = workdir / "harden" / "hardened.json"
    added = None if policy.hook else policy.error_port
    result = netlist_equivalence(workdir / "plain" / "plain.json", gate, top, workdir / "equiv", added)
    return hardened, result
