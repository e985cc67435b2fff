"""TMR benchmark: time to harden and to prove, and the flip-flop and area overhead, plain vs hardened.

1. Default architecture, every II: time for the TMR pass (yosys read, triplication, the
   proof, Verilog written back), the flip-flop bits before and after, and the proof that
   comes with it (`tmr.proof`): translation validation of the hardened netlist against
   the plain one, and the induction lemma of every register kind.
2. The broken transforms of `tmr.mutants` applied to the default II=1 netlist, and broken
   voters in the lemma: each must fail its proof.
3. Per II, plain vs hardened `ae_top` through the same yosys flow as `asicgen synth`
   (hierarchical `synth -noabc`, ABC `strash; dc2; map`): flip-flops, cells and gate
   equivalents, and the check that every replica survived. The hardened netlist keeps
   its stateless submodules (the dot products), so the default architecture
   synthesises in minutes; `--arch small` uses a small network (2 filters, 4 outputs).
4. Per II, the independent second method: the yosys proof hardened == plain
   (`tmr.flow.prove_hardening`, `equiv_*`) on the small network, and on the default
   architecture at the IIs given by `--prove-default` (none by default: it takes long).

Usage: python bench/run_tmr.py [--arch default|small] [--no-area] [--prove-default II ...] [--out DIR]
Results: DIR/tmr.json and DIR/tmr.md (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results, say  # noqa: E402

from asicgen.core.arch import EncoderArch  # noqa: E402
from asicgen.core.design import SUPPORTED_II, Design  # noqa: E402
from asicgen.harden import generate_hardened_top  # noqa: E402
from asicgen.rtl import FILE_ORDER, generate_rtl  # noqa: E402
from asicgen.synth import synthesise_rtl  # noqa: E402
from asicgen.tmr_policy import ae_top_policy  # noqa: E402
from tmr.flow import check_survival, harden_sources, prove_hardening  # noqa: E402
from tmr.mutants import MUTANTS  # noqa: E402
from tmr.netlist import Module  # noqa: E402
from tmr.proof import kinds_of, prove_kind, validate  # noqa: E402
from tmr.transform import TmrError, registers  # noqa: E402

#: the register the mutants break, and the other register one of them wires in
MUTANT_REGISTERS = ("u_regfile.elinks_q", "u_regfile.enable_q")

SMALL = EncoderArch(conv_filters=2, dense_units=4)


def harden(design: Design, work: Path) -> dict:
    """The TMR pass with its proof, in `work/harden` (kept for the mutants)."""
    generate_rtl(work / "rtl", design, "bench")
    t0 = time.perf_counter()
    hardened = harden_sources([work / "rtl" / n for n in FILE_ORDER], ae_top_policy(), "ae_top",
                              work / "harden")
    seconds = time.perf_counter() - t0
    r, proof = hardened.report, hardened.proof
    v = proof.validation
    return {"ii": design.ii, "seconds": round(seconds, 1), "registers": len(r.triplicated),
            "single_registers": len(r.single), "ff_bits_plain": r.bits_before,
            "ff_bits_hardened": r.bits_after, "voters": r.voters,
            "proof": {"proven": proof.proven, "seconds": round(proof.seconds, 1),
                      "validation_seconds": round(v.seconds, 1), "cells_matched": v.plain_cells,
                      "registers_collapsed": v.protected, "single": v.single, "error_cells": v.error_cells,
                      "flags": v.flags, "problems": len(v.problems),
                      "common_mode_nets": v.common_mode.nets if v.common_mode else None,
                      "pads_every_copy_reads": v.common_mode.pads if v.common_mode else [],
                      "domain_cells": r.domain_logic_cells,
                      "kinds": [{"kind": k.kind.label(), "registers": k.registers, "proven": k.proven}
                                for k in proof.kinds],
                      "unproven": len(v.problems) + sum(not k.proven for k in proof.kinds)}}


def mutants(work: Path) -> list[dict]:
    """Each broken transform on the hardened netlist in `work/harden`: its proof must fail."""
    harden_dir = work / "harden"
    design = json.loads((harden_dir / "hardened.json").read_text())
    rows = []
    for name, mutant in MUTANTS.items():
        broken = work / "mutant.json"
        broken.write_text(json.dumps(mutant(design, "ae_top", *MUTANT_REGISTERS)))
        t0 = time.perf_counter()
        result = validate(harden_dir / "plain.json", broken, ae_top_policy(), "ae_top")
        rows.append({"mutant": name, "method": "translation validation", "failed": not result.proven,
                     "first_problem": result.problems[0] if result.problems else "",
                     "seconds": round(time.perf_counter() - t0, 1)})
    plain = json.loads((harden_dir / "plain.json").read_text())["modules"]["ae_top"]
    kinds = kinds_of(plain, registers(Module("ae_top", plain), ae_top_policy()))
    kind = sorted(kinds, key=lambda k: k.label())[0]
    for voter, name in (("and", "voter not a majority"), ("copy0", "missing voter")):
        t0 = time.perf_counter()
        proven, detail = prove_kind(kind, work / f"lemma_{voter}", voter)
        rows.append({"mutant": f"{name} ({kind.label()})", "method": "induction lemma", "failed": not proven,
                     "first_problem": detail, "seconds": round(time.perf_counter() - t0, 1)})
    return rows


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
             "## Hardening the default architecture, with its proof (`asicgen generate --tmr`)", "",
             "Time: the whole pass (yosys read and flatten, triplication, proof, Verilog written). Proof "
             "(`tmr.proof`): translation validation of the hardened netlist against the plain one (every "
             "plain cell matched cell for cell and wire for wire, every protected register collapsed from "
             "three copies and a majority voter, error logic reading copies only, each class flag an OR of "
             "two-copy comparisons covering exactly its registers, no combinational path from the "
             "comparators to a pin) and the induction lemma of each register kind (one copy upset per clock: "
             "voted == plain, flagged).", "",
             "| II | time (pass + proof) | proof | proven | unproven | cells matched | registers collapsed | "
             "left single | register kinds (lemma) | flip-flop bits plain | hardened | common-mode nets | "
             "cells copied into domains 1, 2 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for h in r["harden"]:
        p = h["proof"]
        kinds = "; ".join(f"{k['kind']}: {k['registers']} {'proven' if k['proven'] else 'FAILED'}"
                          for k in p["kinds"])
        proven = "yes" if p["proven"] else "NO"
        lines.append(f"| {h['ii']} | {h['seconds']} s | {p['seconds']} s | {proven} | {p['unproven']} | "
                     f"{p['cells_matched']:,} | {p['registers_collapsed']} | {p['single']} | {kinds} | "
                     f"{h['ff_bits_plain']:,} | {h['ff_bits_hardened']:,} | "
                     f"{p.get('common_mode_nets', '-')} | {p.get('domain_cells', 0):,} |")
    lines += ["", "## Broken transforms must fail the proof (default architecture, II=1)", "",
              f"Registers broken: `{r['mutant_registers'][0]}` (and `{r['mutant_registers'][1]}` for the "
              "wrong-voter wiring).", "",
              "| broken transform | method | proof failed | first problem reported | time |",
              "|---|---|---|---|---|"]
    for m in r["mutants"]:
        lines.append(f"| {m['mutant']} | {m['method']} | {'yes' if m['failed'] else 'NO'} | "
                     f"{m['first_problem'].replace('|', '/')} | {m['seconds']} s |")
    lines += ["", f"## Area, plain vs hardened ({r['area_arch']})", "",
              *(["Not measured in this run (`--no-area`).", ""] if not r["area"] else []),
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
              "## Second method: yosys `equiv_*`, hardened == plain with no upsets "
              "(`tmr.flow.prove_hardening`)", "",
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
    parser.add_argument("--no-area", action="store_true", help="skip the area comparison (synthesis)")
    parser.add_argument("--prove-default", type=int, nargs="*", default=[], metavar="II",
                        help="IIs at which to run the yosys equiv proof on the default architecture too "
                             "(default: none; it takes long)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    area_arch = SMALL if args.arch == "small" else EncoderArch()
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu_cores": os.cpu_count(),
                     "harden": [], "mutants": [], "area": [], "proofs": [],
                     "mutant_registers": list(MUTANT_REGISTERS),
                     "area_arch": Design.build(area_arch).summary().replace(", II=1, latency 2 clocks", "")}
    with tempfile.TemporaryDirectory(prefix="asicgen-bench-tmr-") as tmp:
        work = Path(tmp)
        for ii in SUPPORTED_II:
            row = harden(Design.build(EncoderArch(), ii), work / f"default{ii}")
            say(f"harden and prove default II={ii}: {row['seconds']} s, proof {row['proof']}")
            results["harden"].append(row)
            if ii == 1:
                results["mutants"] = mutants(work / "default1")
                say(f"mutants: {[(m['mutant'], m['failed']) for m in results['mutants']]}")
        for ii in () if args.no_area else SUPPORTED_II:
            results["area"].append(area(Design.build(area_arch, ii), work / f"area{ii}"))
        for ii in SUPPORTED_II:
            results["proofs"].append(proof(Design.build(SMALL, ii), work / f"prove_small{ii}"))
            say(f"proof: {results['proofs'][-1]}")
        for ii in args.prove_default:
            results["proofs"].append(proof(Design.build(EncoderArch(), ii), work / f"prove_default{ii}"))
            say(f"proof: {results['proofs'][-1]}")
    out = Path(args.out)
    text = markdown(results)
    save_results(out, "tmr", results, text)
    print(text)
    ok = (all(h["proof"]["proven"] for h in results["harden"])
          and all(m["failed"] for m in results["mutants"])
          and all(p["unproven"] == 0 for p in results["proofs"]))
    return 0 if ok else 1


def area(design: Design, work: Path) -> dict:
    generate_rtl(work / "rtl", design, "bench")
    hardened = generate_hardened_top(work / "rtl", work / "rtl_tmr", design, "bench")
    plain = synthesis(work / "rtl", work / "synth_plain")
    hard = synthesis(work / "rtl_tmr", work / "synth_tmr")
    try:
        survival = "yes: " + check_survival(hard["flip_flops"], hardened.report)
    except TmrError as exc:
        survival = f"NO: {exc}"
    say(f"area II={design.ii}: plain {plain}, hardened {hard}; {survival}")
    return {"ii": design.ii, "plain": plain, "hardened": hard, "survival": survival}


if __name__ == "__main__":
    sys.exit(main())
