"""SEU fault-injection benchmark: long campaigns on the TMR-hardened ae_top, the plain build as control.

Per II (default architecture, II 1 and 4; `--arch small`: the 2-filter, 4-output network of
tests/test_seu.py):

1. The RTL and the TMR pass (with its proof), once for both builds. Weights: a training
   run's `weights.json` (`--weights`), or a short training run of the default region made
   here; for the small network, random weights. The modules streamed are synthetic modules
   of the network's region, in the design's default e-link mode, round and round.
2. Hardened build (verif/tb_seu.py on the wrapper of verif/seu_wrapper.py): the weight image
   programmed over I2C; a stretch of streaming with no upset (the cost of a clock); then
   single upsets in random copies of every protected register while modules stream, and
   more while I2C traffic runs; every `--counter-check-every` upsets and at the end, the
   TMR_ERR flags and the upset counter read over I2C, compared with the classes hit and
   the number of upsets since the last read (the 16-bit counter saturates), and cleared;
   the image read back. Then upsets in the registers not voted (the I2C pad synchronisers,
   one copy per domain under full module triplication, else single): no transaction or
   output may change (single ones must not be flagged or counted either; a domain's copy is
   repaired by that domain's voters, which may count it).
3. Plain build: the same injector into its weights and datapath registers must corrupt
   outputs (the proof that the upsets reach the logic).

Requirements (exit status 1 if one fails): per II at least `--upsets` upsets, 0 escapes, every
upset flagged with exactly its class, repaired and `tmr_err` cleared, every output compared
bit-exact, flags and counter over I2C as expected, the image read back unchanged, the registers
not voted changing nothing, the plain build corrupting.

Each build and its simulation run in a fresh process, so that its peak memory is its own.
`--optimise O1 O2`: the C++ optimisation of the Verilator model; the first is used for the
campaigns; with more than one, each runs the same campaign of `--compare-upsets` upsets while
streaming on the hardened build of the first II, for the comparison table.

Usage: python bench/run_seu.py [--arch default|small] [--ii 1 4] [--weights PATH/weights.json]
       [--upsets N] [--i2c-transactions N] [--plain-upsets N] [--counter-check-every N]
       [--optimise O1 [O2]] [--compare-upsets N] [--out DIR] [--work DIR]
Results: DIR/seu.json and DIR/seu.md (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results, say  # noqa: E402

REFERENCE_SEE = "4 h 17 min (SEE simulation of the reference design, SPEC section 12)"
#: the hardened tests of a campaign, and the plain build's
HARDENED_TESTS = ["upsets_while_streaming_and_over_i2c", "upsets_in_registers_left_single"]
PLAIN_TEST = "plain_build_upsets_corrupt_outputs"
#: the target of the issue this benchmark answers: build and 100,000 upsets, 2 cores
TARGET_SECONDS = 15 * 60


def design_for(arch: str, ii: int):
    from asicgen.core.arch import EncoderArch
    from asicgen.core.design import Design

    small = EncoderArch(conv_filters=2, dense_units=4)
    return Design.build(EncoderArch() if arch == "default" else small, ii)


def trained_weights(work: Path, weights: Path | None) -> tuple[Path, float]:
    """A weights.json: the one given, or that of a short training run of the default region."""
    if weights is not None:
        return weights, 0.0
    from asicgen.cli import main as asicgen

    out = work / "train"
    t0 = time.perf_counter()
    if asicgen(["train", "--epochs", "2", "--modules", "3000", "--seed", "3", "--out", str(out)]) != 0:
        raise SystemExit("training failed")
    return out / "weights.json", time.perf_counter() - t0


def network(arch: str, ii: int, weights_file: Path | None):
    """(design, weights, region name) of one II."""
    import numpy as np

    from asicgen.core.weights import WeightSet
    from asicgen.sources import load_network

    design = design_for(arch, ii)
    if arch == "small":
        return design, WeightSet.random(design, np.random.default_rng(2024)), "cee_high_eta"
    from training.regions import preset_names

    trained = load_network(weights_file, ii)
    if trained.weights.design != design:
        raise SystemExit(f"{weights_file}: not the default architecture at II={ii}")
    # a region given as a file of its own has no synthetic generator here: the default region's
    return design, trained.weights, trained.region if trained.region in preset_names() else "cee_high_eta"


def region_codes(region: str, modules: int, seed: int):
    """Synthetic modules of `region`, as 4E3M TC codes."""
    from asicgen.core.codec import encode_tc
    from training.data import generate
    from training.regions import preset

    return encode_tc(generate(preset(region), seed, modules).calq)


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """One build and its simulation (in a fresh process): build and run times, the peak memory of
    the build (its processes: Verilator, make, the C++ compiler) and of the whole (the simulator
    too), and the stats every cocotb test wrote."""
    from verif.seu import run_seu

    peak = {}

    def after_build() -> None:
        peak["build"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    config = json.loads(Path(spec["config"]).read_text())
    result = run_seu(Path(spec["build_dir"]), config, spec["tests"], optimise=spec["optimise"] == "O2",
                     after_build=after_build)
    stats_dir = Path(config["stats_dir"])
    stats = {p.stem: json.loads(p.read_text()) for p in sorted(stats_dir.glob("*.json"))}
    return {"tests": result.tests, "failed": result.failed, "build_seconds": result.build_seconds,
            "run_seconds": result.run_seconds, "build_peak_mib": peak.get("build"),
            "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "stats": stats}


def in_fresh_process(spec: dict[str, Any]) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(run_child, (spec,))


def jsonable(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)


def n(value: Any) -> str:
    """A count for the tables; '-' when a failed run did not produce it."""
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def hexa(value: Any) -> str:
    return "-" if value is None else f"{value:#x}"


def campaign(work: Path, name: str, seu, design, weights, codes, targets, tests, optimise: str,
             **sizes: Any) -> dict[str, Any]:
    from verif.seu import prepare_campaign

    build_dir = work / name
    config = prepare_campaign(build_dir, seu, design, weights, codes, targets, seed=99, scl_hz=1e6, **sizes)
    (build_dir / "seu_config.json").write_text(json.dumps(config, default=jsonable))
    run = in_fresh_process({"config": str(build_dir / "seu_config.json"), "build_dir": str(build_dir),
                            "tests": tests, "optimise": optimise})
    return {**run, "optimise": optimise}


def run_ii(work: Path, arch: str, ii: int, weights_file: Path | None, args: argparse.Namespace) -> dict:
    from asicgen.harden import generate_plain_and_hardened
    from verif.seu import seu_builds
    from verif.seu_wrapper import PER_DOMAIN

    design, weights, region = network(arch, ii, weights_file)
    codes = region_codes(region, args.modules, seed=11)
    t0 = time.perf_counter()
    sources, netlist, tmr = generate_plain_and_hardened(work / f"ii{ii}", design, "python bench/run_seu.py")
    plain, hardened = seu_builds(sources, netlist, tmr.report)
    prepare_seconds = time.perf_counter() - t0
    say(f"II={ii}: RTL and TMR pass {prepare_seconds:.0f} s; {len(hardened.protected)} protected registers "
        f"({sum(t.width for t in hardened.protected)} bits), {len(hardened.single)} single")
    sizes = {"stream_upsets": args.upsets, "i2c_transactions": args.i2c_transactions,
             "baseline_clocks": args.baseline_clocks, "single_transactions": 5,
             "counter_check_every": args.counter_check_every}
    say(f"II={ii}: hardened build, C++ -{args.optimise[0]}, {args.upsets} upsets while streaming, then "
        f"{args.i2c_transactions} I2C transactions with upsets")
    main_run = campaign(work / f"ii{ii}", f"tmr_{args.optimise[0]}", hardened, design, weights, codes,
                        hardened.protected, HARDENED_TESTS, args.optimise[0], **sizes)
    report_run(main_run)
    compared = {}
    if ii == args.ii[0] and len(args.optimise) > 1:
        # the same campaign for every level (the first level's build is reused, not rebuilt)
        for level in args.optimise:
            say(f"II={ii}: C++ -{level}: {args.compare_upsets} upsets while streaming")
            same = {**sizes, "stream_upsets": args.compare_upsets, "i2c_transactions": 0}
            compared[level] = campaign(work / f"ii{ii}", f"tmr_{level}", hardened, design, weights, codes,
                                       hardened.protected, HARDENED_TESTS[:1], level, **same)
            if level == args.optimise[0]:  # built by the main run
                compared[level] |= {k: main_run[k] for k in ("build_seconds", "build_peak_mib")}
            report_run(compared[level])
    say(f"II={ii}: plain build, {args.plain_upsets} upsets")
    plain_targets = [t for t in plain.protected if t.error_class in ("weights", "datapath")]
    control = campaign(work / f"ii{ii}", "plain", plain, design, weights, codes, plain_targets, [PLAIN_TEST],
                       args.optimise[0], plain_upsets=args.plain_upsets)
    report_run(control)
    return {"ii": ii, "design": design.summary(), "region": region, "modules_in_stream_file": len(codes),
            "prepare_seconds": prepare_seconds, "protected_registers": len(hardened.protected),
            "protected_bits": sum(t.width for t in hardened.protected),
            "single_registers": [t.name for t in hardened.single],
            "single_per_domain": all(t.policy == PER_DOMAIN for t in hardened.single), "hardened": main_run,
            "optimise_compared": compared, "plain": control}


def report_run(run: dict) -> None:
    stats = run["stats"].get("campaign") or run["stats"].get("plain") or {}
    say(f"  build {run['build_seconds']:.0f} s (peak {run['build_peak_mib'] or 0:.0f} MiB), run "
        f"{run['run_seconds']:.0f} s; {stats.get('injected')} upsets, {stats.get('escapes')} escapes, "
        f"{stats.get('upsets_per_second', 0):.0f} upsets/s; tests failed: {run['failed']}")


def requirements(r: dict, minimum: int) -> dict[str, bool]:
    """Each requirement of one II, met or not."""
    h, p = r["hardened"], r["plain"]
    c, s, ps = h["stats"].get("campaign", {}), h["stats"].get("single", {}), p["stats"].get("plain", {})
    count = c.get("injected", 0)
    return {
        "cocotb tests passed": h["failed"] == 0 and p["failed"] == 0 and h["tests"] == len(HARDENED_TESTS),
        f"at least {minimum:,} upsets": count >= minimum,
        "upsets during I2C traffic": c.get("upsets_during_i2c", 0) > 0,
        "every class hit": set(c.get("per_class", {})) == {"weights", "config", "fsm", "datapath"},
        "0 escapes, every output bit-exact": c.get("escapes") == 0 and c.get("bad_outputs") == 0
        and c.get("modules_compared", 0) > 0,
        "all flagged with their class": c.get("flagged") == count and c.get("class_flag_right") == count,
        "all repaired, tmr_err cleared": c.get("repaired") == count and c.get("cleared") == count,
        "flags and counter over I2C as expected": bool(c.get("status_checks"))
        and c.get("status_checks_right") == len(c["status_checks"]) and c.get("upsets_counted") == count,
        "image read back unchanged": bool(c.get("image_read_back_equal")),
        # copied once per domain, their upsets are repaired by that domain's voters and may be counted
        "single registers change nothing": s.get("injected", 0) > 0 and s.get("escapes") == 0
        and s.get("bad_outputs") == 0
        and (r.get("single_per_domain") or (s.get("flagged") == 0 and s.get("upset_count") == 0)),
        "plain build corrupts": ps.get("escapes", 0) > 0 and ps.get("flagged") == 0,
    }


def mib(value: float | None) -> str:
    return f"{value:,.0f} MiB" if value else "-"


def ii_markdown(r: dict, minimum: int) -> list[str]:
    h, p = r["hardened"], r["plain"]
    c, s, ps = h["stats"].get("campaign", {}), h["stats"].get("single", {}), p["stats"].get("plain", {})
    base, prog = c.get("stream_without_upsets") or {}, c.get("programming_over_i2c") or {}
    count = c.get("injected", 0)
    clock_seconds = c.get("clocks", 0) / base["clocks_per_second"] if base.get("clocks_per_second") else 0
    per_upset = (c.get("seconds", 0) - clock_seconds) / count * 1e3 if count else 0
    met = requirements(r, minimum)
    lines = [
        f"## II={r['ii']}: {r['design']}", "",
        f"Region `{r['region']}` ({r['modules_in_stream_file']} modules streamed round and round); "
        f"{r['protected_registers']} protected registers ({r['protected_bits']:,} bits, three copies each); "
        f"{'one copy per domain, not voted' if r.get('single_per_domain') else 'left single'}: "
        f"{', '.join(f'`{x}`' for x in r['single_registers'])}.", "",
        "| | hardened (TMR) | plain (control) |", "|---|---|---|",
        f"| upsets while streaming / during I2C traffic | {n(c.get('upsets_while_streaming'))} / "
        f"{n(c.get('upsets_during_i2c'))} | {n(ps.get('injected', 0))} / - |",
        f"| flagged (`tmr_err` high the clock after) | {n(c.get('flagged'))} | {n(ps.get('flagged'))} |",
        "| flagged with exactly their class (flags before the next edge) | "
        f"{n(c.get('class_flag_right'))} | - |",
        f"| repaired on the next edge / `tmr_err` low one clock later | {n(c.get('repaired'))} / "
        f"{n(c.get('cleared'))} | - |",
        f"| **escapes** (an output wrong, missing or extra, or a port moved) | **{n(c.get('escapes'))}** | "
        f"{n(ps.get('escapes'))} |",
        f"| outputs compared bit-exact with the model (bad) | {n(c.get('modules_compared'))} "
        f"({n(c.get('bad_outputs'))}) | {n(ps.get('modules_compared', 0))} ({n(ps.get('bad_outputs'))}) |",
        f"| upsets per class | {n(c.get('per_class'))} | {n(ps.get('per_class'))} |",
        f"| TMR_ERR and UPSET_COUNT read over I2C and cleared: reads as expected, upsets counted | "
        f"{n(c.get('status_checks_right'))} of {len(c.get('status_checks', []))}, "
        f"{n(c.get('upsets_counted'))} | - |",
        f"| weight image read back over I2C = programmed | {n(c.get('image_read_back_equal'))} | - |",
        f"| I2C transactions during upsets (errors) | {n(c.get('i2c_transactions'))} "
        f"({n(c.get('i2c_error_count'))}) | - |",
        f"| upsets in the registers not voted: escapes, flagged, counter | {n(s.get('injected'))}: "
        f"{n(s.get('escapes'))}, {n(s.get('flagged'))}, {n(s.get('upset_count'))} | - |",
        f"| campaign: simulated clocks, time | {n(c.get('clocks', 0))}, {c.get('seconds', 0):.1f} s | - |",
        f"| **upsets per second** | **{c.get('upsets_per_second', 0):,.0f}** | - |",
        f"| Verilator build (C++ -{h.get('optimise', '')}) | {h['build_seconds']:.0f} s, peak "
        f"{mib(h['build_peak_mib'])} | {p['build_seconds']:.0f} s, peak {mib(p['build_peak_mib'])} |",
        f"| whole simulation run (reset, programming, read-back included) | {h['run_seconds']:.0f} s | "
        f"{p['run_seconds']:.0f} s |",
        f"| **build + upsets** (target {TARGET_SECONDS // 60} min) | "
        f"**{(h['build_seconds'] + h['run_seconds']) / 60:.1f} min** | - |", "",
        "Where the time goes (hardened): "
        f"RTL and TMR pass with its proof {r['prepare_seconds']:.0f} s (once for both builds); "
        f"Verilator build {h['build_seconds']:.0f} s; programming the image over I2C "
        f"{prog.get('seconds', 0):.0f} s ({prog.get('clocks', 0):,} clocks); "
        f"streaming with no upset {base.get('clocks_per_second', 0):,.0f} clocks/s; "
        f"the campaign's {n(c.get('clocks', 0))} clocks would take {clock_seconds:.1f} s at that rate, "
        f"so Python costs about {per_upset:.2f} ms per upset; reading the image back "
        f"{c.get('read_back_seconds', 0):.0f} s.",
        "",
        "Requirements: " + "; ".join(f"{k} {'yes' if v else '**NO**'}" for k, v in met.items()) + ".", "",
    ]
    return lines


def optimise_markdown(r: dict) -> list[str]:
    runs = r["optimise_compared"]
    if len(runs) < 2:
        return []
    lines = [f"### C++ optimisation of the Verilator model (hardened, II={r['ii']}, the same campaign "
             "while streaming, no I2C)", "",
             "| C++ | build | build peak | upsets | upsets/s | clocks/s streaming, no upsets |",
             "|---|---|---|---|---|---|"]
    for level, run in runs.items():
        c = run["stats"].get("campaign", {})
        lines.append(f"| -{level} | {run['build_seconds']:.0f} s | {mib(run['build_peak_mib'])} | "
                     f"{n(c.get('injected', 0))} | {c.get('upsets_per_second', 0):,.0f} | "
                     f"{(c.get('stream_without_upsets') or {}).get('clocks_per_second', 0):,.0f} |")
    return lines + [""]


def markdown(results: dict) -> str:
    lines = ["# SEU fault injection (asicgen, cocotb + Verilator)", "",
             f"Measured {results['date']} on 2 CPU cores; architecture "
             f"`{results['arch']}`, weights: {results['weights']}. Upsets: one bit of one copy inverted "
             "by the test wrapper (verif/seu_wrapper.py) at a random clock (2 to 8 clocks apart) and "
             "time inside it; every output compared in the simulator with the bit-exact model's. The plain "
             "build restores a weight 3 clocks after its upset, so each upset has its own window.", ""]
    for r in results["per_ii"]:
        lines += ii_markdown(r, results["minimum_upsets"]) + optimise_markdown(r)
    chosen = ("chosen by measurement, see above" if len(results["optimise"]) > 1
              else "-O2 compared by running with `--optimise O1 O2`")
    lines += [f"Verilator model: C++ -{results['optimise'][0]} ({chosen}), "
              "only the signals the tests touch public, read-only except the wrapper's ports.",
              f"Total time of this benchmark: {results['total_seconds'] / 60:.1f} min "
              f"(training {results['training_seconds']:.0f} s). Reference: {REFERENCE_SEE}.",
              "", f"**All requirements met: {results['passed']}**"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=("default", "small"), default="default")
    parser.add_argument("--ii", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--weights", type=Path, default=None,
                        help="weights.json of a training run (default architecture; default: train briefly)")
    parser.add_argument("--upsets", type=int, default=100_000, help="upsets while streaming (hardened)")
    parser.add_argument("--i2c-transactions", type=int, default=10, help="I2C transactions with upsets")
    parser.add_argument("--plain-upsets", type=int, default=2_000)
    parser.add_argument("--counter-check-every", type=int, default=20_000,
                        help="upsets between two reads (and clears) of the status over I2C")
    parser.add_argument("--modules", type=int, default=2_000, help="modules in the stream file")
    parser.add_argument("--baseline-clocks", type=int, default=20_000, help="clocks streamed with no upset")
    parser.add_argument("--optimise", nargs="+", choices=("O1", "O2"), default=["O1"])
    parser.add_argument("--compare-upsets", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--work", type=Path, default=None, help="build folder (default: a temporary one)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="asicgen-seu-") as tmp:
        work = (args.work or Path(tmp)).resolve()
        t0 = time.perf_counter()
        weights_file, training = (None, 0.0) if args.arch == "small" else trained_weights(work, args.weights)
        per_ii = [run_ii(work, args.arch, ii, weights_file, args) for ii in args.ii]
        trained = f"`{args.weights}`" if args.weights else "a short training run (2 epochs, 3,000 modules)"
        results = {"date": time.strftime("%Y-%m-%d %H:%M"), "arch": args.arch, "optimise": args.optimise,
                   "weights": "random" if weights_file is None else trained,
                   "minimum_upsets": args.upsets, "per_ii": per_ii, "training_seconds": training,
                   "total_seconds": time.perf_counter() - t0, "reference_see_simulation": REFERENCE_SEE}
        results["passed"] = all(all(requirements(r, args.upsets).values()) for r in per_ii)
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(results)
    save_results(args.out, "seu", results, text)
    print(text)
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
