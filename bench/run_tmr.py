"""TMR benchmark: time to harden, and the flip-flop and area overhead, plain vs hardened.

1. Default architecture, every II: time for the TMR pass (yosys read, triplication,
   Verilog written back) and the flip-flop bits before and after, from its report.
2. Per II, plain vs hardened `ae_top` through yosys (`synth -flatten -noabc`, generic
   gates): flip-flops, cells and gate equivalents (`asicgen.synth.gate_equivalents`).
   A flat generic synthesis of the default datapath does not finish in useful time in
   the WebAssembly yosys, so this part uses a small network (2 filters, 4 outputs,
   188 weights) by default; `--arch default` runs it on the full one.

Usage: python bench/run_tmr.py [--arch small|default] [--out DIR]
Results: DIR/tmr.json and DIR/tmr.md (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asicgen.arch import EncoderArch  # noqa: E402
from asicgen.atomic import write_text  # noqa: E402
from asicgen.design import Design  # noqa: E402
from asicgen.rtl import FILE_ORDER, generate_rtl  # noqa: E402
from asicgen.synth import count_flops, gate_equivalents  # noqa: E402
from tmr.flow import generate_hardened_top  # noqa: E402
from tmr.yosys import run_yosys, stage_sources  # noqa: E402

SMALL = EncoderArch(conv_filters=2, dense_units=4)


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def harden(design: Design, work: Path) -> tuple[dict, Path]:
    generate_rtl(work / "rtl", design, "bench")
    t0 = time.perf_counter()
    hardened = generate_hardened_top(work / "rtl", work / "rtl_tmr", design, "bench")
    seconds = time.perf_counter() - t0
    r = hardened.report
    return ({"ii": design.ii, "seconds": round(seconds, 2), "registers": len(r.triplicated),
             "single_registers": len(r.single), "ff_bits_plain": r.bits_before,
             "ff_bits_hardened": r.bits_after, "voters": r.voters}, work / "rtl_tmr" / "ae_top.v")


def generic_synthesis(sources: list[Path], work: Path) -> dict:
    staged = stage_sources(sources, work)
    files = " ".join(f'"{s}"' for s in staged)
    t0 = time.perf_counter()
    run_yosys(f"read_verilog -sv {files}\nsynth -flatten -noabc -top ae_top\n"
              "tee -q -o stat.json stat -json\n", work, "synth.log")
    seconds = time.perf_counter() - t0
    stat = json.loads((work / "stat.json").read_text())
    # $scopeinfo cells only record the flattened hierarchy; they are not hardware
    cells = Counter({k: int(v) for k, v in stat["modules"]["\\ae_top"]["num_cells_by_type"].items()
                     if k != "$scopeinfo"})
    return {"cells": sum(cells.values()), "flip_flops": count_flops(cells),
            "gate_equivalents": round(gate_equivalents(cells)), "seconds": round(seconds, 1)}


def markdown(r: dict) -> str:
    lines = ["# TMR benchmark", "", f"Measured {r['date']} on {r['cpu_cores']} CPU cores.", "",
             "## Hardening the default architecture (`asicgen generate --tmr`)", "",
             "| II | time to harden | registers triplicated | left single | voters | flip-flop bits plain | "
             "hardened | ratio |", "|---|---|---|---|---|---|---|---|"]
    for h in r["harden"]:
        lines.append(f"| {h['ii']} | {h['seconds']} s | {h['registers']} | {h['single_registers']} | "
                     f"{h['voters']} | {h['ff_bits_plain']:,} | {h['ff_bits_hardened']:,} | "
                     f"{h['ff_bits_hardened'] / h['ff_bits_plain']:.2f} |")
    lines += ["", f"## Area, plain vs hardened ({r['area_arch']})", "",
              "yosys `synth -flatten -noabc` (generic gates), the same flow on both.",
              "", "| II | flip-flops plain | hardened | cells plain | hardened | GE plain | GE hardened | "
              "GE overhead |", "|---|---|---|---|---|---|---|---|"]
    for a in r["area"]:
        p, h = a["plain"], a["hardened"]
        lines.append(f"| {a['ii']} | {p['flip_flops']:,} | {h['flip_flops']:,} | {p['cells']:,} | "
                     f"{h['cells']:,} | {p['gate_equivalents']:,} | {h['gate_equivalents']:,} | "
                     f"{h['gate_equivalents'] / p['gate_equivalents'] - 1:+.0%} |")
    lines += ["", "Gate equivalents: transistor count / 4 (`asicgen/synth.py`); without a technology "
              "library only the ratios mean something.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("small", "default"), default="small",
                        help="network for the area comparison (default: small)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    area_arch = SMALL if args.arch == "small" else EncoderArch()
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu_cores": os.cpu_count(),
                     "harden": [], "area": [],
                     "area_arch": Design.build(area_arch).summary().replace(", II=1, latency 2 clocks", "")}
    with tempfile.TemporaryDirectory(prefix="asicgen-bench-tmr-") as tmp:
        work = Path(tmp)
        for ii in (1, 2, 4, 8):
            row, _ = harden(Design.build(EncoderArch(), ii), work / f"default{ii}")
            say(f"harden default II={ii}: {row}")
            results["harden"].append(row)
        for ii in (1, 2, 4, 8):
            design = Design.build(area_arch, ii)
            _, hardened = harden(design, work / f"area{ii}")
            plain = generic_synthesis([work / f"area{ii}" / "rtl" / n for n in FILE_ORDER], work / f"p{ii}")
            hard = generic_synthesis([hardened], work / f"h{ii}")
            say(f"area II={ii}: plain {plain}, hardened {hard}")
            results["area"].append({"ii": ii, "plain": plain, "hardened": hard})
    out = Path(args.out)
    write_text(out / "tmr.json", json.dumps(results, indent=1) + "\n")
    text = markdown(results)
    write_text(out / "tmr.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
