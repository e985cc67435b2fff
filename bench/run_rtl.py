"""RTL benchmarks: prints and saves measured figures.

1. RTL generation time per II (`asicgen.rtl.generate_rtl`, default architecture).
2. Verilator build of the bulk testbench at II = 1 (full C++ optimisation): time and
   peak memory.
3. cocotb + Verilator streaming throughput at II = 1 (`verif/tb_throughput.py`), every
   module checked against the bit-exact model.
4. Bulk mode (`verif/tb_bulk.sv`, no cocotb): modules/s on a million modules, mismatches.
5. yosys synthesis of ae_top per II (`asicgen.synth`), beside the reference figures.
6. Programming the full weight image over I2C (`verif.i2c_timing`): SCL cycles and time
   at 400 kHz and 1 MHz.

Usage: python bench/run_rtl.py [--only SECTION ...] [--modules N] [--bulk-modules N] [--out DIR]
Sections: generation, build, throughput, bulk, synth, i2c (default: all). With --only, the
other sections of an existing DIR/rtl.json are kept.
Results: DIR/rtl.json and DIR/rtl.md (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results, say, timed  # noqa: E402

from asicgen.core.arch import EncoderArch  # noqa: E402
from asicgen.core.design import SUPPORTED_II, Design  # noqa: E402

SECTIONS = ("generation", "build", "throughput", "bulk", "synth", "i2c")
TARGETS = {"throughput": 5_000, "bulk": 100_000}
REFERENCE_FLOW = {"RTL simulation": "46 s", "logic synthesis": "6 h"}
SEED = 21


def design_at(ii: int) -> Design:
    return Design.build(EncoderArch(), ii)


def weights_for(design: Design):
    import numpy as np

    from asicgen.core.weights import WeightSet

    return WeightSet.random(design, np.random.default_rng(SEED))


def region_codes(design: Design, modules: int, distinct: int):
    """`modules` modules: `distinct` synthetic modules of every region preset, repeated."""
    import numpy as np

    from training.regions import preset_names
    from verif.vectors import region_vectors

    base = region_vectors(design, -(-distinct // len(preset_names())), seed=SEED).codes
    return np.resize(base, (modules, base.shape[1])), len(base)


# -- sections ---------------------------------------------------------------------


def generation(work: Path) -> list[dict]:
    from asicgen.rtl import generate_rtl

    generate_rtl(work / "warm", design_at(1), "bench")  # imports, template compilation
    rows = []
    for ii in SUPPORTED_II:
        design = design_at(ii)
        paths, seconds = timed(lambda d=design, i=ii: generate_rtl(work / f"gen_ii{i}", d, "bench"))
        rows.append({"ii": ii, "seconds": round(seconds, 3), "files": len(paths),
                     "bytes": sum(p.stat().st_size for p in paths)})
    return rows


def bulk_build(work: Path) -> dict:
    from asicgen.rtl import generate_rtl
    from verif.bulk import build_bulk

    design = design_at(1)
    generate_rtl(work / "bulk" / "rtl", design, "python bench/run_rtl.py")
    binary, seconds, peak = build_bulk(design, work / "bulk" / "rtl", work / "bulk", optimise=True)
    return {"ii": 1, "optimise": True, "seconds": round(seconds, 1), "peak_mib": round(peak),
            "binary": str(binary)}


def throughput(work: Path, modules: int) -> dict:
    from asicgen.rtl import generate_rtl
    from verif.tb_throughput import run_throughput

    design = design_at(1)
    codes, distinct = region_codes(design, modules, min(modules, 50_000))
    generate_rtl(work / "throughput" / "rtl", design, "python bench/run_rtl.py")
    r = run_throughput(design, weights_for(design), codes, work / "throughput" / "rtl", work / "throughput",
                       optimise=True)
    return {"ii": 1, "dut": "ae_core (tb_throughput_top.sv)", "modules": r.modules,
            "distinct_modules": distinct,
            "checked": r.checked, "mismatches": r.mismatches, "stream_seconds": round(r.stream_seconds, 2),
            "modules_per_s": round(r.modules_per_s), "prepare_seconds": round(r.prepare_seconds, 2),
            "build_seconds": round(r.build_seconds, 1), "target_modules_per_s": TARGETS["throughput"]}


def bulk(binary: Path, modules: int) -> dict:
    import numpy as np

    from verif.bulk import run_bulk
    from verif.vectors import VectorSet

    design = design_at(1)
    codes, distinct = region_codes(design, modules, min(modules, 100_000))
    vectors = VectorSet(codes, np.full(len(codes), design.default_elinks), (("regions", len(codes)),))
    weights = weights_for(design)
    r, total = timed(lambda: run_bulk(binary, weights, vectors))
    return {"ii": 1, "modules": r.modules, "distinct_modules": distinct, "checked": r.checked,
            "mismatches": r.mismatches, "shards": r.shards, "run_seconds": round(r.seconds, 2),
            "modules_per_s": round(r.modules_per_s), "seconds_with_model_and_files": round(total, 1),
            "target_modules_per_s": TARGETS["bulk"]}


def synthesis(work: Path) -> dict:
    from asicgen.synth import DEFAULT_FLOW, FLOW_NOTES, report_rows, synthesise

    results = []
    for ii in SUPPORTED_II:
        results += synthesise(design_at(ii), work / "synth", command="bench/run_rtl.py --only synth")
        say(f"synth II={ii}: {results[-1].gate_equivalents:,.0f} GE in {results[-1].seconds} s")
    rows = [{k: v for k, v in row.items() if k != "cells_by_type"} for row in report_rows(results)]
    return {"flow": DEFAULT_FLOW, "flow_note": FLOW_NOTES[DEFAULT_FLOW], "rows": rows}


def i2c(work: Path) -> list[dict]:
    from verif.i2c_timing import measure

    rows = []
    for scl in (400e3, 1e6):
        r = measure(design_at(1), scl, work / f"i2c_{int(scl)}")
        rows.append({k: r[k] for k in ("scl_hz", "program_scl_cycles", "predicted_scl_cycles", "program_ns",
                                        "program_clocks", "readback_ns", "run_s") if k in r})
        say(f"I2C at {scl:g} Hz: {rows[-1]}")
    return rows


# -- report -----------------------------------------------------------------------


def md_generation(r: dict) -> list[str]:
    lines = ["## RTL generation (default architecture)", "",
             "| II | time | files | bytes |", "|---|---|---|---|"]
    lines += [f"| {g['ii']} | {g['seconds']} s | {g['files']} | {g['bytes']:,} |" for g in r["generation"]]
    return lines + [""]


def md_build(r: dict) -> list[str]:
    b = r["build"]
    return ["## Verilator build (bulk testbench, II=1, Verilator -O3, C++ -O2)", "",
            f"* {b['seconds']} s, peak memory {b['peak_mib']:,} MiB", ""]


def md_throughput(r: dict) -> list[str]:
    t = r["throughput"]
    return ["## cocotb + Verilator streaming (II=1, `verif/tb_throughput.py`)", "",
            f"* **{t['modules_per_s']:,} modules/s** (target {t['target_modules_per_s']:,}): "
            f"{t['modules']:,} modules ({t['distinct_modules']:,} distinct) streamed in "
            f"{t['stream_seconds']} s of wall time, "
            f"{t['mismatches']} mismatches in {t['checked']:,} outputs",
            f"* stimulus packing and expected outputs before the clock starts: {t['prepare_seconds']} s; "
            f"build {t['build_seconds']} s", ""]


def md_bulk(r: dict) -> list[str]:
    b = r["bulk"]
    return ["## Bulk mode (`verif/tb_bulk.sv`, II=1)", "",
            f"* **{b['modules_per_s']:,} modules/s** (target {b['target_modules_per_s']:,}): "
            f"{b['modules']:,} modules ({b['distinct_modules']:,} distinct, repeated) in "
            f"{b['run_seconds']} s including "
            f"loading the vector files, {b['mismatches']} mismatches in {b['checked']:,} outputs; "
            f"{b.get('shards', 1)} simulator processes at once, one per core, each streaming a "
            "contiguous share of the file from reset",
            f"* with the Python model and writing the files: {b['seconds_with_model_and_files']} s", ""]


def md_synth(r: dict) -> list[str]:
    s = r["synth"]
    lines = ["## Logic synthesis (yosys, `asicgen/synth.py`)", "",
             f"Flow `{s['flow']}`: {s['flow_note']}.", "",
             "| II | cells | flip-flops | gate equivalents | logic depth | GE vs II=1 | reference um2 | "
             "reference vs II=1 | yosys time | peak memory |", "|---|---|---|---|---|---|---|---|---|---|"]
    for w in s["rows"]:
        lines.append(f"| {w['ii']} | {w['cells']:,} | {w['flops']:,} | {w['gate_equivalents']:,.0f} | "
                     f"{w['depth']} | {w['ge_ratio']:.3f} | {w['reference_um2']:,} | "
                     f"{w['reference_ratio']:.3f} | "
                     f"{w['seconds']:.0f} s | {w['peak_mib']:,} MiB |")
    lines += ["", "Gate equivalents: transistor count / 4 (NAND2 = 1), see `asicgen/synth.py`. Reference: "
              "Catapult area estimates of SPEC section 12 (about 770k gates at II=1, 65 nm); only the "
              "ratios are comparable.", ""]
    return lines


def md_i2c(r: dict) -> list[str]:
    lines = ["## Programming the weight image over I2C (`verif.i2c_timing`)", "",
             "| SCL | SCL cycles | predicted | program time | system clocks | read back |",
             "|---|---|---|---|---|---|"]
    for w in r["i2c"]:
        lines.append(f"| {w['scl_hz'] / 1e3:g} kHz | {w['program_scl_cycles']:,} | "
                     f"{w['predicted_scl_cycles']:,} | {w['program_ns'] / 1e6:.2f} ms | "
                     f"{w['program_clocks']:,} | {w['readback_ns'] / 1e6:.2f} ms |")
    return lines + [""]


MARKDOWN = {"generation": md_generation, "build": md_build, "throughput": md_throughput, "bulk": md_bulk,
            "synth": md_synth, "i2c": md_i2c}


def markdown(r: dict) -> str:
    lines = ["# RTL benchmark", "", f"Measured {r['date']} on {r['cpu_cores']} CPU cores; "
             f"default architecture ({design_at(1).summary()}).", ""]
    for name in SECTIONS:
        if name in r:
            lines += MARKDOWN[name](r)
    flow = ", ".join(f"{k} {v}" for k, v in REFERENCE_FLOW.items())
    lines += [f"Reference design (SPEC section 12): {flow}.", ""]
    return "\n".join(lines)


def run_sections(sections: list[str], work: Path, args: argparse.Namespace, results: dict,
                 save: Callable[[], None]) -> None:
    """Run the chosen sections in order, saving the results after each."""
    if "generation" in sections:
        results["generation"] = generation(work)
        say(f"generation: {results['generation']}")
        save()
    binary = None
    if "build" in sections or "bulk" in sections:
        build = bulk_build(work)
        binary = Path(build.pop("binary"))
        if "build" in sections:
            results["build"] = build
            save()
        say(f"bulk build: {build}")
    if "throughput" in sections:
        results["throughput"] = throughput(work, args.modules)
        say(f"throughput: {results['throughput']}")
        save()
    if "bulk" in sections and binary is not None:
        results["bulk"] = bulk(binary, args.bulk_modules)
        say(f"bulk: {results['bulk']}")
        save()
    if "synth" in sections:
        results["synth"] = synthesis(work)
        save()
    if "i2c" in sections:
        results["i2c"] = i2c(work)
        save()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--modules", type=int, default=100_000, help="modules for the cocotb throughput run")
    parser.add_argument("--bulk-modules", type=int, default=1_000_000, help="modules for the bulk run")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--work", default=None, help="build folder (default: a temporary one)")
    args = parser.parse_args()

    out = Path(args.out)
    previous = out / "rtl.json"
    keep = previous.exists() and set(args.only) != set(SECTIONS)
    results: dict = json.loads(previous.read_text()) if keep else {}
    results.update({"date": time.strftime("%Y-%m-%d %H:%M"), "cpu_cores": os.cpu_count()})

    def save() -> None:
        save_results(out, "rtl", results, markdown(results))

    with tempfile.TemporaryDirectory(prefix="asicgen-bench-rtl-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        run_sections(args.only, work, args, results, save)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
