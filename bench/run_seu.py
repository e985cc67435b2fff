"""SEU fault-injection benchmark: a long campaign on the TMR-hardened ae_top.

1. Hardened build (Verilator, fully optimised): single upsets in random copies of
   every protected register while modules stream, then while I2C traffic runs
   (verif/tb_seu.py, test `upsets_while_streaming_and_over_i2c`). Reported:
   upsets injected, flagged, flagged with the right class, repaired, escapes
   (upsets after which an output differed from the Python model), the upset
   counter read over I2C, upsets per second and clocks per second of simulation.
2. Plain build: the same injector into the single registers (weights, datapath),
   to show the upsets are visible without TMR.

The architecture is the tiny one of tests/test_seu.py by default (2 filters,
4 outputs): the hardened default encoder is too large to build and simulate in a
benchmark's time here.

Usage: python bench/run_seu.py [--upsets N] [--i2c-transactions N] [--plain-upsets N] [--out DIR]
Results: DIR/seu.json and DIR/seu.md (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results, say  # noqa: E402

REFERENCE_SEE = "4 h 17 min (SEE simulation of the reference design, SPEC section 12)"


def run_campaign(work: Path, hardened: bool, upsets: int, transactions: int) -> dict:
    import numpy as np

    from asicgen.arch import EncoderArch
    from asicgen.design import Design
    from asicgen.vectors import region_vectors
    from asicgen.weights import WeightSet
    from verif.runner import run_cocotb
    from verif.seu import prepare_build, tmr_classes, wrapper_parameters

    design = Design.build(EncoderArch(conv_filters=2, dense_units=4), 1)
    build = work / ("tmr" if hardened else "plain")
    t0 = time.perf_counter()
    sources, targets, single = prepare_build(build, design, hardened)
    prepare_seconds = time.perf_counter() - t0
    if not hardened:
        targets = [t for t in targets if t.error_class in ("weights", "datapath")]
    vectors = region_vectors(design, per_region=250, seed=11)
    np.savez(build / "vectors.npz", codes=vectors.codes)
    weights = WeightSet.random(design, np.random.default_rng(2024))
    test = "upsets_while_streaming_and_over_i2c" if hardened else "plain_build_upsets_corrupt_outputs"
    config = {"design": design.to_raw(), "weights": weights.words(), "vectors": build / "vectors.npz",
              "build": "tmr" if hardened else "plain", "targets": [t.to_raw() for t in targets],
              "single_targets": [t.to_raw() for t in single],
              "classes": tmr_classes(design), "seed": 99, "scl_hz": 1e6, "stats_dir": build / "stats",
              "stream_upsets": upsets, "i2c_transactions": transactions, "plain_upsets": upsets}
    result = run_cocotb(sources=sources, toplevel="tb_ae_top", test_module="verif.tb_seu", build_dir=build,
                        config=config, testcase=test, parameters=wrapper_parameters(design), optimise=True)
    stats_file = build / "stats" / ("campaign.json" if hardened else "plain.json")
    stats = json.loads(stats_file.read_text()) if stats_file.is_file() else {}
    return {"design": design.summary(), "protected_registers": len(targets),
            "protected_bits": sum(t.width for t in targets), "passed": result.failed == 0,
            "prepare_seconds": prepare_seconds, "build_seconds": result.build_seconds,
            "simulation_seconds": result.run_seconds, "stats": stats}


def markdown(results: dict) -> str:
    h, p = results["hardened"], results["plain"]
    s = h["stats"]
    ps = p["stats"]
    lines = [
        "# SEU fault injection (asicgen, cocotb + Verilator)", "",
        f"Design: {h['design']} (the tiny test architecture; the default encoder is too large to "
        "harden, build and simulate in a benchmark run here). Hardened build: "
        f"{h['protected_registers']} protected registers, {h['protected_bits']} bits, three copies each.", "",
        "| | hardened (TMR) | plain |", "|---|---|---|",
        f"| upsets injected | {s.get('injected')} | {ps.get('injected')} |",
        f"| of which during I2C traffic | {s.get('upsets_during_i2c')} | - |",
        f"| flagged (tmr_err high before the next edge) | {s.get('flagged')} | {ps.get('flagged')} |",
        f"| flagged with exactly the right class | {s.get('class_flag_right')} | - |",
        f"| repaired on the next edge | {s.get('repaired')} | - |",
        f"| escapes (an output differed from the model) | {s.get('escapes')} | {ps.get('escapes')} |",
        f"| wrong / missing / extra outputs | {s.get('bad_outputs')} | {ps.get('bad_outputs')} |",
        f"| modules compared with the Python model | {s.get('modules_compared')} | "
        f"{ps.get('modules_compared')} |",
        f"| upset counter read over I2C (expected) | {s.get('upset_count')} "
        f"({s.get('upset_count_expected')}) | - |",
        f"| TMR_ERR flags read over I2C (expected) | {s.get('tmr_err_flags')} "
        f"({s.get('tmr_err_expected')}) | - |",
        f"| weight image read back over I2C = programmed | {s.get('image_read_back_equal')} | - |",
        f"| I2C transactions during upsets (errors) | {s.get('i2c_transactions')} "
        f"({s.get('i2c_error_count')}) | - |",
        f"| simulated clocks in the campaign | {s.get('clocks')} | - |",
        f"| campaign time | {s.get('seconds', 0):.1f} s | {ps.get('seconds', 0):.1f} s |",
        f"| **upsets per second** | **{s.get('upsets_per_second', 0):.0f}** | - |",
        f"| clocks per second | {s.get('clocks_per_second', 0):.0f} | - |",
        f"| Verilator build (-O2) | {h['build_seconds']:.0f} s | {p['build_seconds']:.0f} s |",
        f"| RTL + TMR generation | {h['prepare_seconds']:.1f} s | {p['prepare_seconds']:.1f} s |",
        f"| whole simulation run (reset, I2C programming, read-back included) | "
        f"{h['simulation_seconds']:.0f} s | {p['simulation_seconds']:.0f} s |", "",
        f"Upsets per class (hardened): {s.get('per_class')}.", "",
        f"Reference: {REFERENCE_SEE}. Here {s.get('injected')} upsets took "
        f"{h['build_seconds'] + h['simulation_seconds']:.0f} s, build included.", "",
        "Upsets are plain deposits into one bit of one copy at a random clock (2 to 8 clocks apart) "
        "and a random time inside it; the plain build restores a weight 3 clocks after its upset so "
        "that each upset has its own window.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upsets", type=int, default=100_000, help="upsets while streaming (hardened)")
    parser.add_argument("--i2c-transactions", type=int, default=10, help="I2C transactions with upsets")
    parser.add_argument("--plain-upsets", type=int, default=2_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--work", type=Path, default=None, help="build folder (default: a temporary one)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="asicgen-seu-") as tmp:
        work = args.work or Path(tmp)
        t0 = time.perf_counter()
        say(f"hardened build: {args.upsets} upsets while streaming, then {args.i2c_transactions} "
            "I2C transactions with upsets")
        hardened = run_campaign(work, True, args.upsets, args.i2c_transactions)
        say(f"plain build: {args.plain_upsets} upsets")
        plain = run_campaign(work, False, args.plain_upsets, 0)
        results = {"hardened": hardened, "plain": plain, "total_seconds": time.perf_counter() - t0,
                   "reference_see_simulation": REFERENCE_SEE}
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(results)
    save_results(args.out, "seu", results, text)
    print(text)
    ok = (hardened["passed"] and plain["passed"] and hardened["stats"].get("escapes") == 0
          and plain["stats"].get("escapes", 0) > 0)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
