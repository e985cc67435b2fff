"""The TMR-hardened ae_top (`asicgen generate --tmr`, the flow's tmr stage): the generated RTL
through the generic TMR pass (tmr/) with the ae_top policy written beside it
(`tmr_policy.toml`, `asicgen.tmr_policy`), written with its stamp, report and manifest."""

from __future__ import annotations

from pathlib import Path

from asicgen import __version__
from asicgen.core.design import Design
from asicgen.core.naming import FILE_ORDER, TOP_FILE
from asicgen.core.outputs import RTL_TMR_KIND
from asicgen.core.render import Stamp, write_tree
from asicgen.rtl import generate_rtl
from asicgen.tmr_policy import load_rtl_policy
from tmr.flow import Hardened, harden_sources, report_json, report_markdown
from tmr.placement import PLACEMENT_FILE, placement_tcl


def generate_hardened_top(rtl_dir: Path, out_dir: Path, design: Design, command: str) -> Hardened:
    """Harden the generated ae_top in `rtl_dir` (asicgen generate --tmr) into `out_dir`."""
    hardened = harden_sources([Path(rtl_dir) / name for name in FILE_ORDER], load_rtl_policy(rtl_dir),
                              Path(TOP_FILE).stem)
    stamp = Stamp(f"TMR-hardened {hardened.top}: {design.summary()}", design.digest(), command)
    files = {"ae_top.v": stamp.header("ae_top.v") + hardened.verilog,
             "tmr_report.md": report_markdown(hardened), "tmr_report.json": report_json(hardened),
             PLACEMENT_FILE: placement_tcl(hardened.report, hardened.top, stamp.header(PLACEMENT_FILE))}
    write_tree(Path(out_dir), files, {"tool": f"asicgen {__version__}", "kind": RTL_TMR_KIND,
                                      "design": design.to_raw(), "design_sha256": design.digest(),
                                      "ii": design.ii, "latency": design.latency, "top": hardened.top,
                                      "file_order": ["ae_top.v"], "command": command})
    return hardened


def generate_plain_and_hardened(out_dir: Path, design: Design,
                                command: str) -> tuple[list[Path], Path, Hardened]:
    """The RTL in `out_dir`/rtl and its hardened ae_top in `out_dir`/tmr: (the RTL's files in
    compile order, the hardened netlist, the TMR pass's result)."""
    sources = generate_rtl(Path(out_dir) / "rtl", design, command)
    hardened = generate_hardened_top(Path(out_dir) / "rtl", Path(out_dir) / "tmr", design, command)
    return list(sources), Path(out_dir) / "tmr" / "ae_top.v", hardened
