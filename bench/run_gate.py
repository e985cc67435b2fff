"""Gate-level benchmark: the default architecture's osu018 netlists, plain and hardened, at
gate level (`asicgen gatesim`): Verilator build time, modules streamed bit-exact after I2C
programming and read-back, simulation time, and optionally fault campaigns and the power
with the activity of every net.

Per II (default 1 and 8): `asicgen synth` of the trained network's RTL onto osu018 with
`--tmr` (plain and hardened netlists; `--synth DIR` reuses a synth folder written that way),
then `asicgen gatesim` with the trained weights on region data.

Weights: a training run's `weights.json` (`--weights`), or a short training run of the default
region made here.

Requirements (exit status 1 if one fails): every netlist streams `--modules` modules
bit-exact after its image is programmed and read back equal (gatesim fails otherwise); with
`--faults`, the hardened netlists survive and the plain ones do not; with `--power`, every
cell's output net measured.

`--collect DIR ...` reports gatesim folders written earlier (each with its command in
`gatesim.md`) instead of running.

Usage: python bench/run_gate.py [--ii 1 8] [--weights PATH/weights.json] [--synth DIR ...]
       [--dot chain|csa] [--modules N] [--faults N] [--shards K] [--power] [--out DIR] [--work DIR]
       python bench/run_gate.py --collect GATESIM_DIR ... [--out DIR]
Results: DIR/gate.json and DIR/gate.md (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results, say  # noqa: E402
from run_seu import trained_weights  # noqa: E402


def synthesise(weights: Path, ii: int, dot: str, out: Path) -> float:
    from asicgen.cli import main as asicgen

    t0 = time.perf_counter()
    if asicgen(["synth", str(weights), "--ii", str(ii), "--liberty", "osu018", "--dot", dot, "--tmr",
                "--no-depth", "--out", str(out)]) != 0:
        raise SystemExit(f"synthesis at II={ii} failed")
    return time.perf_counter() - t0


def gatesim(synth: Path, weights: Path, out: Path, args) -> float:
    from asicgen.cli import main as asicgen

    t0 = time.perf_counter()
    command = ["gatesim", str(synth), "--weights", str(weights), "--out", str(out), "--modules",
               str(args.modules), "--faults", str(args.faults), "--shards", str(args.shards), "--force"]
    if asicgen(command + (["--power"] if args.power else [])) != 0:
        raise SystemExit(f"gatesim of {synth} failed")
    return time.perf_counter() - t0


def table(rows: list[dict]) -> list[str]:
    lines = ["| II | build | dot products | cells (each module once) | cells (flattened) | "
             "modules bit-exact | Verilator build (s) | simulation (s), I2C included | "
             "modules/s, I2C included |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if not r["modules"]:  # a campaign without a streaming run: its figures are below
            continue
        lines.append(f"| {r['ii']} | {r['build']} | {r['dot_structure']} | {r['cells']:,} | "
                     f"{r['flattened_cells']:,} | {r['modules']:,} | {r['build_seconds']:.0f} | "
                     f"{r['run_seconds']:.0f} | {r['modules'] / r['run_seconds']:.1f} |")
    faults = [r for r in rows if r["faults"]]
    if faults:
        lines += ["", "| II | build | upsets | transients | image bytes wrong after | "
                  "bad outputs after (modules) | shards | build (s) | simulation (s) | faults/s |",
                  "|---" * 10 + "|"]
        for r in faults:
            f = r["faults"]
            lines.append(f"| {r['ii']} | {r['build']} | {f['upsets']:,} | {f['transients']:,} | "
                         f"{f['image_bytes_wrong_after']} | {f['bad_outputs_after']} "
                         f"({f.get('clean_modules_per_shard', 40):,} per shard) | "
                         f"{f.get('shards', 1)} | "
                         f"{f['build_seconds']:.0f} | {f['run_seconds']:.0f} | "
                         f"{(f['upsets'] + f['transients']) / f['run_seconds']:.1f} |")
    powers = [r for r in rows if r["power"]]
    if powers:
        lines += ["", "| II | build | per-net power (mW) | energy per inference (pJ) | one activity | "
                  "its power (mW) | its energy (pJ) | clocks measured |", "|---|---|---|---|---|---|---|---|"]
        for r in powers:
            p = r["power"]
            lines.append(f"| {r['ii']} | {r['build']} | {p['per_net_w'] * 1e3:.1f} | "
                         f"{p['energy_per_inference_pj']:,.0f} | {p['one_activity']:.4f} | "
                         f"{p['one_activity_w'] * 1e3:.1f} | {p['one_activity_energy_pj']:,.0f} | "
                         f"{p['clocks']:,} |")
    return lines


def collect(folders: list[Path], out: Path) -> int:
    from asicgen.gate import read_figures

    rows = [asdict(f) for folder in folders for f in read_figures(folder)]
    commands = [next((line for line in (folder / "gatesim.md").read_text().splitlines()
                      if line.startswith("Command:")), "Command: ?") for folder in folders]
    text = "\n".join(["# Gate-level simulation (osu018)", "",
                      "Collected from `asicgen gatesim` runs on 2 cores (`python bench/run_gate.py "
                      "--collect`). Every netlist had its image programmed over I2C and read back equal "
                      "before the modules streamed (docs/gate.md).", "",
                      *[f"* {c}" for c in commands], "", *table(rows), ""])
    save_results(out, "gate", {"netlists": rows, "commands": commands}, text)
    print(text)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ii", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--synth", type=Path, nargs="+", default=[],
                        help="synth folders (written with --liberty osu018 --tmr) to reuse, one per II")
    parser.add_argument("--dot", choices=("chain", "csa"), default="chain")
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--faults", type=int, default=0)
    parser.add_argument("--shards", type=int, default=2,
                        help="fault-campaign shards side by side (default 2)")
    parser.add_argument("--power", action="store_true")
    parser.add_argument("--collect", type=Path, nargs="+", default=[],
                        help="gatesim folders to report instead of running")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    from asicgen.gate import read_figures
    from asicgen.synth import mapped_netlists

    if args.collect:
        return collect(args.collect, args.out)
    work = args.work or Path(tempfile.mkdtemp(prefix="asicgen-gate-"))
    weights, train_s = trained_weights(work, args.weights)
    reused = {mapped_netlists(folder)[0].design.ii: folder for folder in args.synth}
    rows, timings = [], {}
    for ii in args.ii:
        synth = reused.get(ii)
        if synth is None:
            synth = work / f"syn{ii}"
            say(f"II={ii}: synthesis onto osu018, plain and hardened")
            timings[f"synth_ii{ii}_s"] = round(synthesise(weights, ii, args.dot, synth), 1)
        say(f"II={ii}: gate-level simulation of {synth}")
        timings[f"gatesim_ii{ii}_s"] = round(gatesim(synth, weights, work / f"gate{ii}", args), 1)
        rows += [asdict(f) for f in read_figures(work / f"gate{ii}")]
    failed = [r["label"] for r in rows if r["power"] and r["power"]["cells_measured"] < r["cells"]]
    text = "\n".join([
        "# Gate-level simulation (osu018)", "",
        f"`python bench/run_gate.py --ii {' '.join(map(str, args.ii))} --modules {args.modules} --faults "
        f"{args.faults}{' --power' if args.power else ''}`, trained weights ({weights}), 2 cores. Every "
        "netlist had its image programmed over I2C and read back equal before the modules streamed "
        "(docs/gate.md).", "",
        *table(rows), "",
        f"Timings (s): {', '.join(f'{k} {v}' for k, v in timings.items())}"
        + (f"; training {train_s:.0f}" if train_s else ""), ""])
    save_results(args.out, "gate", {"netlists": rows, "timings": timings, "weights": str(weights)}, text)
    print(text)
    if failed:
        print(f"[bench] FAILED: cells without a measured activity in {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
