"""TMR benchmark: time to harden and to prove, and the flip-flop and area overhead, plain vs hardened.

1. Default architecture, every II: time for the TMR pass (yosys read, triplication,
   Verilog written back) and the flip-flop bits before and after, from its report.
2. Per II, plain vs hardened `ae_top` through the same yosys flow as `asicgen synth`
   (hierarchical `synth -noabc`, ABC `strash; dc2; map`): flip-flops, cells and gate
   equivalents, and the check that every replica survived. The hardened netlist keeps
   its stateless submodules (the dot products), so the default architecture
   synthesises in minutes; `--arch small` uses a small network (2 filters, 4 outputs).
3. Per II, the formal proof hardened == plain (`tmr.flow.prove_hardening`) on the
   small network, and on the default architecture at the II given by `--prove-default`.

Usage: python bench/run_tmr.py [--arch default|small] [--prove-default II ...] [--out DIR]
Results: DIR/tmr.json and DIR/tmr.md (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results, say  # noqa: E402

from asicgen.arch import EncoderArch  # noqa: E402
from asicgen.design import Design  # noqa: E402
from asicgen.rtl import FILE_ORDER, generate_rtl  # noqa: E402
from asicgen.synth import synthesise_rtl  # noqa: E402
from tmr.flow import check_survival, generate_hardened_top, prove_hardening  # noqa: E402
from tmr.policy import ae_top_policy  # noqa: E402
from tmr.transform import TmrError  # noqa: E402

SMALL = EncoderArch(conv_filters=2, dense_units=4)


def harden(design: Design, work: Path) -> tuple[dict, Path]:
    generate_rtl(work / "rtl", design, "bench")
    t0 = time.perf_counter()
    hardened = generate_hardened_top(work / "rtl", work / "rtl_tmr", design, "bench")
    seconds = time.perf_counter() - t0
    r = hardened.report
    return ({"ii": design.ii, "seconds": round(seconds, 2), "registers": len(r.triplicated),
             "single_registers": len(r.single), "ff_bits_plain": r.bits_before,
             "ff_bits_hardened": r.bits_after, "voters": r.voters}, work / "rtl_tmr" / "ae_top.v")


def synthesis(rtl_dir: Path, work: Path) -> dict:
    result = synthesise_rtl(rtl_dir, work, depth=False)
    return {"cells": result.cells, "flip_flops": result.flops,
            "gate_equivalents": round(result.gate_equivalents), "seconds": result.seconds,
            "peak_mib": result.peak_mib}


def proof(design: Design, work: Path) -> dict:
    generate_rtl(work / "rtl", design, "bench")
    t0 = time.perf_counter()
    hardened, result = prove_hardening([work / "rtl" / n for n in FILE_ORDER], ae_top_policy(), "ae_top",
                                       work / "proof")
    return {"ii": design.ii, "arch": design.summary(), "seconds": round(time.perf_counter() - t0, 1),
            "proven": result.proven, "unproven": result.unproven,
            "protected_bits": hardened.report.protected_bits}


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
              "yosys, the flow of `asicgen synth` (hierarchical `synth -noabc`, ABC `strash; dc2; map`), "
              "the same on both.", "",
              "| II | flip-flops plain | hardened | replicas survive | cells plain | hardened | GE plain | "
              "GE hardened | GE overhead | yosys time plain / hardened |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for a in r["area"]:
        p, h = a["plain"], a["hardened"]
        lines.append(f"| {a['ii']} | {p['flip_flops']:,} | {h['flip_flops']:,} | {a['survival']} | "
                     f"{p['cells']:,} | {h['cells']:,} | {p['gate_equivalents']:,} | "
                     f"{h['gate_equivalents']:,} | "
                     f"{h['gate_equivalents'] / p['gate_equivalents'] - 1:+.0%} | "
                     f"{p['seconds']:.0f} s / {h['seconds']:.0f} s |")
    lines += ["", "Gate equivalents: transistor count / 4 (`asicgen/synth.py`); without a technology "
              "library only the ratios mean something.", "",
              "## Formal proof, hardened == plain with no upsets (`tmr.flow.prove_hardening`)", "",
              "| network | II | proven $equiv | unproven | protected bits | time |",
              "|---|---|---|---|---|---|"]
    for p in r["proofs"]:
        lines.append(f"| {p['arch']} | {p['ii']} | {p['proven']:,} | {p['unproven']} | "
                     f"{p['protected_bits']:,} | {p['seconds']} s |")
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("small", "default"), default="default",
                        help="network for the area comparison (default: default)")
    parser.add_argument("--prove-default", type=int, nargs="*", default=[8], metavar="II",
                        help="IIs at which to prove the default architecture (default: 8)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    area_arch = SMALL if args.arch == "small" else EncoderArch()
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu_cores": os.cpu_count(),
                     "harden": [], "area": [], "proofs": [],
                     "area_arch": Design.build(area_arch).summary().replace(", II=1, latency 2 clocks", "")}
    with tempfile.TemporaryDirectory(prefix="asicgen-bench-tmr-") as tmp:
        work = Path(tmp)
        for ii in (1, 2, 4, 8):
            row, _ = harden(Design.build(EncoderArch(), ii), work / f"default{ii}")
            say(f"harden default II={ii}: {row}")
            results["harden"].append(row)
        for ii in (1, 2, 4, 8):
            design = Design.build(area_arch, ii)
            area = work / f"area{ii}"
            generate_rtl(area / "rtl", design, "bench")
            hardened = generate_hardened_top(area / "rtl", area / "rtl_tmr", design, "bench")
            plain = synthesis(area / "rtl", area / "synth_plain")
            hard = synthesis(area / "rtl_tmr", area / "synth_tmr")
            try:
                survival = "yes: " + check_survival(hard["flip_flops"], hardened.report)
            except TmrError as exc:
                survival = f"NO: {exc}"
            say(f"area II={ii}: plain {plain}, hardened {hard}; {survival}")
            results["area"].append({"ii": ii, "plain": plain, "hardened": hard, "survival": survival})
        for ii in (1, 2, 4, 8):
            results["proofs"].append(proof(Design.build(SMALL, ii), work / f"prove_small{ii}"))
            say(f"proof: {results['proofs'][-1]}")
        for ii in args.prove_default:
            results["proofs"].append(proof(Design.build(EncoderArch(), ii), work / f"prove_default{ii}"))
            say(f"proof: {results['proofs'][-1]}")
    out = Path(args.out)
    text = markdown(results)
    save_results(out, "tmr", results, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
