"""Training benchmarks: prints and saves measured figures.

1. Training wall time and peak memory of `asicgen train` on the default region
   (a separate process, so its peak resident memory is its own).
2. Median EMD of the autoencoder against each baseline at each e-link budget,
   each budget on its own region preset, on the same validation modules.
3. Telescope-trained vs MSE-trained autoencoder on the default region.
4. Batched EMD throughput against a per-module pyemd loop, and identity check.

Usage: python bench/run_training.py [--modules N] [--out DIR]
Results: DIR/training.json and DIR/training.md (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results, say, timed  # noqa: E402

from training.baselines import BASELINE_NAMES  # noqa: E402
from training.regions import DEFAULT_REGION, preset, preset_names  # noqa: E402


def train_subprocess(region: str, out: Path, modules: int | None, loss: str = "telescope") -> dict:
    """Run `asicgen train` in a child process; returns metrics + wall time + peak memory."""
    cmd = [sys.executable, "-m", "asicgen.cli", "train", "--region", region, "--out", str(out),
           "--loss", loss]
    if modules is not None:
        cmd += ["--modules", str(modules)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    _, wall = timed(lambda: subprocess.run(cmd, check=True, cwd=ROOT, env=env))
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    metrics = json.loads((out / "metrics.json").read_text())
    return {"metrics": metrics, "wall_seconds": round(wall, 1),
            "peak_rss_mib": round(peak_kib / 1024, 1), "peak_is_own": peak_kib > before}


def emd_throughput(n_pairs: int) -> dict:
    from training import metrics
    from training.baselines import make_baseline
    from training.data import generate
    from training.train import Prepared, readable

    prepared = Prepared.of(generate(preset(DEFAULT_REGION), seed=11, modules=n_pairs))
    keep = prepared.inputs.sum(axis=1) > 0
    prepared = prepared.subset(np.flatnonzero(keep))
    recon = readable(make_baseline("best_choice", 5).reconstruct(prepared.inputs, prepared.charges))
    truth = prepared.charges
    reference, loop_s = timed(
        lambda: np.array([metrics.emd(a, b) for a, b in zip(truth, recon, strict=True)]))
    batched, batch_s = timed(lambda: metrics.emd_batch(truth, recon))
    single, single_s = timed(lambda: metrics.emd_batch(truth, recon, workers=1))
    return {
        "pairs": len(truth),
        "cpu_cores": os.cpu_count(),
        "pyemd_loop_pairs_per_s": round(len(truth) / loop_s),
        "emd_batch_pairs_per_s": round(len(truth) / batch_s),
        "emd_batch_one_process_pairs_per_s": round(len(truth) / single_s),
        "speedup": round(loop_s / batch_s, 2),
        "speedup_one_process": round(loop_s / single_s, 2),
        "identical": bool(np.array_equal(reference, batched) and np.array_equal(reference, single)),
    }


def median(metrics: dict, name: str) -> float:
    return metrics["emd"][name]["all"]["median"]


def markdown(results: dict) -> str:
    lines = ["# Training benchmark", "",
             f"Measured {results['date']} on {results['cpu_cores']} CPU cores; "
             f"{results['modules_per_region']} modules per region.", ""]
    t = results["default_training"]
    lines += ["## Training the default region", "",
              f"* region `{t['region']}`: {t['epochs_run']} epochs, wall time "
              f"{t['wall_seconds']} s (target < 300 s), peak memory {t['peak_rss_mib']} MiB "
              f"(target < 4096 MiB)", ""]
    gen = t.get("generator")
    if gen:
        lines += ["## Data", "",
                  f"* synthetic modules; front end: {gen['cells_per_tc']} cells per TC, noise "
                  f"{gen['noise_counts']} ADC counts per TC, cells summed above "
                  f"{gen['cell_threshold_sigma']} sigma of their noise", ""]
    lines += ["## Median EMD per e-link budget (lower is better)", "",
              "| e-links | region | autoencoder | " + " | ".join(BASELINE_NAMES) + " | AE best |",
              "|---|---|---|" + "---|" * len(BASELINE_NAMES) + "---|"]
    for row in results["per_budget"]:
        base = " | ".join(f"{row['baselines'][n]:.3f}" for n in BASELINE_NAMES)
        lines.append(f"| {row['elinks']} | {row['region']} | {row['autoencoder']:.3f} | {base} | "
                     f"{'yes' if row['autoencoder_wins'] else 'no'} |")
    m = results["telescope_vs_mse"]
    lines += ["", "## Loss", "",
              f"* median EMD, region `{m['region']}`: telescope {m['telescope']:.3f}, "
              f"MSE {m['mse']:.3f} (telescope lower: {'yes' if m['telescope_lower'] else 'no'})", ""]
    e = results["emd_throughput"]
    lines += ["## Batched EMD", "",
              f"* {e['pairs']} pairs: pyemd loop {e['pyemd_loop_pairs_per_s']} pairs/s, "
              f"emd_batch {e['emd_batch_pairs_per_s']} pairs/s ({e['speedup']}x; one process "
              f"{e['speedup_one_process']}x), identical results: {e['identical']}", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=None,
                        help="modules per region (default: each region's own count)")
    parser.add_argument("--emd-pairs", type=int, default=50_000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    out = Path(args.out)
    work = out / "runs"
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu_cores": os.cpu_count(),
                     "modules_per_region": args.modules or preset(DEFAULT_REGION).generator.modules}

    say(f"training the default region {DEFAULT_REGION} in a child process")
    default = train_subprocess(DEFAULT_REGION, work / DEFAULT_REGION, args.modules)
    results["default_training"] = {
        "region": DEFAULT_REGION, "wall_seconds": default["wall_seconds"],
        "peak_rss_mib": default["peak_rss_mib"], "epochs_run": default["metrics"]["epochs_run"],
        "train_seconds": default["metrics"]["train_seconds"],
        "generator": default["metrics"].get("generator")}
    say(f"default region: {default['wall_seconds']} s wall, {default['peak_rss_mib']} MiB peak")

    per_budget = []
    for name in sorted(preset_names(), key=lambda n: preset(n).elinks):
        region = preset(name)
        run = default if name == DEFAULT_REGION else train_subprocess(name, work / name, args.modules)
        m = run["metrics"]
        baselines = {b: median(m, b) for b in BASELINE_NAMES}
        row = {"elinks": region.elinks, "region": name, "autoencoder": median(m, "autoencoder"),
               "baselines": baselines,
               "autoencoder_wins": all(median(m, "autoencoder") < v for v in baselines.values())}
        per_budget.append(row)
        say(f"{region.elinks} e-links ({name}): AE {row['autoencoder']:.3f}, "
            + ", ".join(f"{b} {v:.3f}" for b, v in baselines.items()))
    results["per_budget"] = per_budget

    say("training the default region with plain MSE")
    mse = train_subprocess(DEFAULT_REGION, work / f"{DEFAULT_REGION}_mse", args.modules, loss="mse")
    tele_m, mse_m = median(default["metrics"], "autoencoder"), median(mse["metrics"], "autoencoder")
    results["telescope_vs_mse"] = {"region": DEFAULT_REGION, "telescope": tele_m, "mse": mse_m,
                                   "telescope_lower": tele_m < mse_m}
    say(f"telescope {tele_m:.3f} vs MSE {mse_m:.3f}")

    say(f"EMD throughput on {args.emd_pairs} pairs")
    results["emd_throughput"] = emd_throughput(args.emd_pairs)
    say(json.dumps(results["emd_throughput"]))

    text = markdown(results)
    save_results(out, "training", results, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
