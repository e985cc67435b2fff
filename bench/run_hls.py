"""Bit-exact model and HLS benchmarks: prints and saves measured figures.

1. Python model throughput (modules/s): converter + encoder + e-link truncation
   on synthetic modules of every region preset.
2. Generation time from a saved model to a complete HLS project, per II: the
   whole `asicgen hls` command in a fresh process (start-up, TensorFlow import,
   model load included), and the generation step alone.
3. C simulation per II: g++ build time, and modules/s of the compiled testbench
   against the Python model (with the mismatch count).
4. hls4ml's Catapult back end on the same model: convert + compile time.

Usage: python bench/run_hls.py [--model DIR] [--modules N] [--out DIR]
Without --model, a short training run provides the saved model.
Results: DIR/hls.json and DIR/hls.md (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results, say, timed  # noqa: E402

from asicgen.core.design import SUPPORTED_II  # noqa: E402

REFERENCE = {"model generation": "0.98 s", "C simulation": "0.14 s", "HLS": "30 min"}


def saved_model(work: Path) -> Path:
    out = work / "trained"
    say("training a short run for the saved model")
    subprocess.run([sys.executable, "-m", "asicgen.cli", "train", "--out", str(out), "--modules", "5000",
                    "--epochs", "3", "--eval-modules", "500"], check=True, cwd=ROOT,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, stderr=subprocess.DEVNULL)
    return out


def model_throughput(network, modules: int) -> dict:
    from asicgen.core import golden
    from verif.vectors import region_vectors

    vectors = region_vectors(network.design, modules // 4, seed=5)
    golden.run(network.design, network.weights, vectors.codes[:1000], vectors.elinks[:1000])  # warm up
    _, seconds = timed(lambda: golden.run(network.design, network.weights, vectors.codes, vectors.elinks))
    return {"modules": len(vectors), "seconds": round(seconds, 3),
            "modules_per_s": round(len(vectors) / seconds)}


def generation(model_dir: Path, work: Path, ii: int) -> dict:
    from asicgen.hls import generate_hls
    from asicgen.sources import load_network

    out = work / f"hls_ii{ii}"
    cmd = [sys.executable, "-m", "asicgen.cli", "hls", str(model_dir), "--ii", str(ii), "--out", str(out)]
    _, command_s = timed(lambda: subprocess.run(cmd, check=True, cwd=ROOT, stderr=subprocess.DEVNULL,
                                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}))
    network = load_network(model_dir, ii)
    _, generate_s = timed(lambda: generate_hls(work / f"again_ii{ii}", network.weights, "bench"))
    files = sum(1 for p in out.rglob("*") if p.is_file())
    return {"ii": ii, "command_seconds": round(command_s, 2), "generate_seconds": round(generate_s, 3),
            "files": files, "project": out}


def csim(project: Path, vectors) -> dict:
    from asicgen.csim import run_csim

    with open(os.devnull, "w") as quiet:
        result = run_csim(project, vectors, stream=quiet)
    return {"modules": result.modules, "mismatches": result.mismatches,
            "compile_seconds": round(result.compile_seconds, 2),
            "run_seconds": round(result.run_seconds, 3),
            "modules_per_s": round(result.modules / result.run_seconds)}


def hls4ml_reference(model_dir: Path, work: Path) -> dict:
    from asicgen.reference import hls4ml_encoder
    from training.qkeras_import import design_from_qkeras, load_qkeras_model

    model = load_qkeras_model(model_dir / "model" / "encoder.h5")
    design = design_from_qkeras(model)
    _, seconds = timed(lambda: hls4ml_encoder(model, design, work / "hls4ml"))
    return {"convert_and_compile_seconds": round(seconds, 1)}


def markdown(r: dict) -> str:
    m = r["model_throughput"]
    lines = ["# Bit-exact model and HLS benchmark", "",
             f"Measured {r['date']} on {r['cpu_cores']} CPU cores.", "",
             "## Python model", "",
             f"* {m['modules']} modules (every region preset, random e-link modes) in {m['seconds']} s: "
             f"**{m['modules_per_s']:,} modules/s**", "",
             "## From a saved model to a complete HLS project", "",
             "| II | `asicgen hls` command (fresh process) | generation step | files | "
             "C sim build | C sim modules/s | C sim mismatches |",
             "|---|---|---|---|---|---|---|"]
    for g, c in zip(r["generation"], r["csim"], strict=True):
        lines.append(f"| {g['ii']} | {g['command_seconds']} s | {g['generate_seconds']} s | {g['files']} | "
                     f"{c['compile_seconds']} s | {c['modules_per_s']:,} | "
                     f"{c['mismatches']} of {c['modules']} |")
    lines += ["", "The command time includes Python start-up, the TensorFlow import and loading the "
              "QKeras model; the generation step renders the templates, packs the weight image and "
              "computes the expected outputs of the shipped test vectors.", "",
              f"* hls4ml Catapult back end, same model: convert + compile "
              f"{r['hls4ml']['convert_and_compile_seconds']} s", "",
              "Reference design (SPEC section 12): " + ", ".join(f"{k} {v}" for k, v in REFERENCE.items())
              + ".", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="training output directory (default: train briefly)")
    parser.add_argument("--modules", type=int, default=200_000, help="modules for the throughput runs")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()

    from asicgen.sources import load_network
    from verif.vectors import standard_vectors

    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu_cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="asicgen-bench-") as tmp:
        work = Path(tmp)
        model_dir = Path(args.model) if args.model else saved_model(work)
        network = load_network(model_dir)
        results["model_throughput"] = model_throughput(network, args.modules)
        say(f"Python model: {results['model_throughput']}")
        vectors = standard_vectors(network.design, per_region=args.modules // 8, seed=9)
        results["generation"], results["csim"] = [], []
        for ii in SUPPORTED_II:
            g = generation(model_dir, work, ii)
            c = csim(g.pop("project"), vectors)
            say(f"II={ii}: generation {g}, csim {c}")
            results["generation"].append(g)
            results["csim"].append(c)
        results["hls4ml"] = hls4ml_reference(model_dir, work)
        say(f"hls4ml: {results['hls4ml']}")
    out = Path(args.out)
    text = markdown(results)
    save_results(out, "hls", results, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
