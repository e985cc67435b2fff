"""SET fault-injection benchmark: single transients on the hardened ae_top, with full module
triplication, and the one-voter scheme (`full-shared`) as control.

Per II (default architecture, II 1 and 8; `--arch small`: the 2-filter, 4-output network):

1. The RTL, then for each scheme the TMR pass (with its proof) and the fault-injection build
   of its netlist (verif/set_build.py): `--per-class` nets of each class (voters, each
   domain's logic, shared logic, datapath) chosen at random, each behind an XOR with a bit
   of the injection port. Weights: a training run's `weights.json` (`--weights`), or a short
   training run of the default region made here; the modules streamed are synthetic modules
   of the network's region, round and round.
2. Full module triplication (verif/tb_seu.py `transients_while_streaming_and_over_i2c`):
   the weight image loaded, `--transients` single transients (a random class, a random net
   of it, a random clock; the net inverted over one rising edge) while modules stream, then
   more during `--i2c-transactions` I2C transactions. After each: every copy agrees again
   and the weights and configuration hold their values (else a persistent corruption,
   counted and put back). Afterwards a stretch of streaming with no transient must be
   bit-exact and the image must read back over I2C.
3. Control: the same campaign (`--control-transients`) on the one-voter scheme must lose
   weights.

Requirements (exit status 1 if one fails): per II at least `--transients` transients on the
hardened build, during streaming and I2C traffic, every class with nets hit, 0 persistent
corruptions, every copy agreeing after each, the outputs bit-exact afterwards and the image
read back unchanged; the control losing weights.

Usage: python bench/run_set.py [--arch default|small] [--ii 1 8] [--weights PATH/weights.json]
       [--transients N] [--control-transients N] [--per-class N] [--i2c-transactions N]
       [--out DIR] [--work DIR]
Results: DIR/set.json and DIR/set.md (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results, say  # noqa: E402
from run_seu import in_fresh_process, jsonable, mib, n, network, region_codes, trained_weights  # noqa: E402

TEST = "transients_while_streaming_and_over_i2c"
SCHEMES = {"full": "full module triplication", "full-shared": "one voter (control)"}


def campaign(work: Path, ii: int, scheme: str, sources, design, weights, codes, args,
             transients: int) -> dict[str, Any]:
    from asicgen.tmr_policy import ae_top_policy
    from verif.set_build import set_build
    from verif.seu import SeuBuild, prepare_campaign, report_targets

    t0 = time.perf_counter()
    build = set_build(sources, ae_top_policy(design).with_full_scheme(scheme), work / f"set_{scheme}",
                      args.per_class, seed=5)
    prepare = time.perf_counter() - t0
    protected, single = report_targets(build.hardened.report)
    seu = SeuBuild([build.netlist], protected, single, True)
    build_dir = work / f"sim_{scheme}"
    config = prepare_campaign(build_dir, seu, design, weights, codes, protected, seed=99,
                              transient_points=build.points, scl_hz=1e6, stream_transients=transients,
                              transient_i2c_transactions=args.i2c_transactions,
                              control=scheme != "full", clean_clocks=args.clean_clocks)
    (build_dir / "seu_config.json").write_text(json.dumps(config, default=jsonable))
    say(f"II={ii} {scheme}: TMR pass and fault-injection build {prepare:.0f} s, {len(build.points)} "
        f"points; simulating {transients:,} transients while streaming, then {args.i2c_transactions} I2C "
        "transactions")
    run = in_fresh_process({"config": str(build_dir / "seu_config.json"), "build_dir": str(build_dir),
                            "tests": [TEST], "optimise": "O1"})
    stats = run["stats"].get("transients", {})
    say(f"  build {run['build_seconds']:.0f} s (peak {run['build_peak_mib'] or 0:.0f} MiB), run "
        f"{run['run_seconds']:.0f} s; {stats.get('injected')} transients, "
        f"{stats.get('persistent_corruptions')} persistent corruptions; tests failed: {run['failed']}")
    return {**run, "scheme": scheme, "prepare_seconds": prepare, "population": build.population,
            "points": len(build.points)}


def run_ii(work: Path, arch: str, ii: int, weights_file: Path | None, args: argparse.Namespace) -> dict:
    from asicgen.rtl import generate_rtl

    design, weights, region = network(arch, ii, weights_file)
    codes = region_codes(region, args.modules, seed=11)
    sources = generate_rtl(work / f"ii{ii}" / "rtl", design, "python bench/run_set.py")
    runs = {scheme: campaign(work / f"ii{ii}", ii, scheme, sources, design, weights, codes, args,
                             args.transients if scheme == "full" else args.control_transients)
            for scheme in SCHEMES}
    return {"ii": ii, "design": design.summary(), "region": region, "runs": runs}


def requirements(r: dict, minimum: int) -> dict[str, bool]:
    full, control = r["runs"]["full"], r["runs"]["full-shared"]
    s, c = full["stats"].get("transients", {}), control["stats"].get("transients", {})
    classes = {k for k, v in full["population"].items() if v}
    return {
        "cocotb tests passed": full["failed"] == 0 and control["failed"] == 0,
        f"at least {minimum:,} transients while streaming": s.get("transients_while_streaming", 0) >= minimum,
        "transients during I2C traffic": s.get("transients_during_i2c", 0) > 0,
        "no common-mode net": full["population"].get("common-mode") == 0,
        "every class hit": set(s.get("per_class", {})) == classes,
        "0 persistent corruptions": s.get("persistent_corruptions") == 0 and s.get("injected", 0) > 0,
        "copies agree after every transient": s.get("not_settled") == 0,
        "outputs bit-exact afterwards, image read back": s.get("bad_outputs_after") == 0
        and bool(s.get("image_read_back_equal")),
        "control loses weights": c.get("persistent_corruptions", 0) > 0,
    }


def class_rows(stats: dict, population: dict) -> list[str]:
    rows = []
    for name, c in stats.get("per_class", {}).items():
        rows.append(f"| {name} | {population.get(name, 0):,} | {c.get('injected', 0):,} | "
                    f"{c.get('flagged', 0):,} | {c.get('with_bad_outputs', 0):,} "
                    f"({c.get('bad_outputs', 0):,}) | "
                    f"**{c.get('persistent_corruptions', 0):,}** |")
    return rows


def ii_markdown(r: dict, minimum: int) -> list[str]:
    lines = [f"## II={r['ii']}: {r['design']}", "", f"Region `{r['region']}`.", ""]
    for scheme, run in r["runs"].items():
        s = run["stats"].get("transients", {})
        lines += [
            f"### {SCHEMES[scheme]} (`{scheme}`)", "",
            f"{n(s.get('injected'))} transients ({n(s.get('transients_while_streaming'))} while streaming, "
            f"{n(s.get('transients_during_i2c'))} during {n(s.get('i2c_transactions'))} I2C transactions, "
            f"{n(s.get('i2c_error_count'))} of them answered wrongly) on {n(run['points'])} nets "
            f"({n(s.get('distinct_points_hit'))} hit); **persistent corruptions: "
            f"{n(s.get('persistent_corruptions'))}** ({n(s.get('corrupted_registers'))}); copies still "
            f"disagreeing {n(s.get('not_settled'))}; bad outputs afterwards {n(s.get('bad_outputs_after'))}; "
            f"image read back = programmed: {n(s.get('image_read_back_equal'))}.", "",
            "| net class | nets in the netlist | transients | flagged | with bad outputs (outputs) | "
            "persistent corruptions |", "|---|---|---|---|---|---|",
            *class_rows(s, run["population"]), "",
            f"Fault-injection build: TMR pass and points {run['prepare_seconds']:.0f} s, Verilator "
            f"{run['build_seconds']:.0f} s (peak {mib(run['build_peak_mib'])}); simulation "
            f"{run['run_seconds']:.0f} s, "
            f"campaign {s.get('seconds', 0):.0f} s for {n(s.get('clocks'))} clocks, "
            f"**{s.get('transients_per_second', 0):,.0f} transients/s**.", ""]
    met = requirements(r, minimum)
    verdicts = "; ".join(f"{k} {'yes' if v else '**NO**'}" for k, v in met.items())
    lines += [f"Requirements: {verdicts}.", ""]
    return lines


def markdown(results: dict) -> str:
    lines = ["# SET fault injection (asicgen, cocotb + Verilator)", "",
             f"Measured {results['date']} on 2 CPU cores; architecture `{results['arch']}`, weights: "
             f"{results['weights']}. A transient: one net of the fault-injection build "
             "(verif/set_build.py) inverted from 2 ns before a rising edge to just after it, so every "
             "flip-flop reading it samples the wrong value; then 4 clocks to settle, the copies and the held "
             "values checked (verif/transients.py). \"Flagged\": a copy took the wrong value (the voters saw "
             "it); \"bad outputs\": outputs of the crossing the transient hit, wrong (a datapath net, or the "
             "voter the datapath reads); \"persistent corruption\": a weight or configuration register held "
             "a wrong value in its copies after settling.", ""]
    for r in results["per_ii"]:
        lines += ii_markdown(r, results["minimum"])
    lines += [f"Total time of this benchmark: {results['total_seconds'] / 60:.1f} min "
              f"(training {results['training_seconds']:.0f} s).", "",
              f"**All requirements met: {results['passed']}**"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=("default", "small"), default="default")
    parser.add_argument("--ii", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--weights", type=Path, default=None,
                        help="weights.json of a training run (default architecture; default: train briefly)")
    parser.add_argument("--transients", type=int, default=100_000, help="transients while streaming")
    parser.add_argument("--control-transients", type=int, default=10_000,
                        help="transients while streaming on the one-voter control")
    parser.add_argument("--per-class", type=int, default=1_000, help="injection points per net class")
    parser.add_argument("--i2c-transactions", type=int, default=10)
    parser.add_argument("--modules", type=int, default=2_000, help="modules in the stream file")
    parser.add_argument("--clean-clocks", type=int, default=5_000,
                        help="clocks streamed with no transient afterwards")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--work", type=Path, default=None, help="build folder (default: a temporary one)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="asicgen-set-") as tmp:
        work = (args.work or Path(tmp)).resolve()
        t0 = time.perf_counter()
        weights_file, training = (None, 0.0) if args.arch == "small" else trained_weights(work, args.weights)
        per_ii = [run_ii(work, args.arch, ii, weights_file, args) for ii in args.ii]
        trained = f"`{args.weights}`" if args.weights else "a short training run (2 epochs, 3,000 modules)"
        results = {"date": time.strftime("%Y-%m-%d %H:%M"), "arch": args.arch,
                   "weights": "random" if weights_file is None else trained, "minimum": args.transients,
                   "per_ii": per_ii, "training_seconds": training, "total_seconds": time.perf_counter() - t0}
        results["passed"] = all(all(requirements(r, args.transients).values()) for r in per_ii)
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(results)
    save_results(args.out, "set", results, text)
    print(text)
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
