"""I2C fuzzing benchmark: many random bus events on the default design's I2C target and
register file (verif/tb_i2c_fuzz.py), every line change checked against the line-level
model; reports hangs (well-formed transactions that failed), stray or missing register-file
writes, and the speed.

Usage: python bench/run_i2c_fuzz.py [--events 100000] [--seed 1] [--out DIR]
Results: DIR/i2c_fuzz.json and DIR/i2c_fuzz.md (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results, say, timed  # noqa: E402

from asicgen.core.arch import EncoderArch  # noqa: E402
from asicgen.core.design import Design  # noqa: E402
from verif.i2c_fuzz import run_fuzz  # noqa: E402


def report(summary: dict, design: Design, seconds: float) -> str:
    kinds = ", ".join(f"{k} {v:,}" for k, v in summary["by_kind"].items())
    verdict = "no mismatch" if summary["mismatches"] == 0 else f"{summary['mismatches']:,} mismatches"
    lines = [
        "# I2C fuzzing", "",
        f"{design.summary()}; seed {summary['seed']}.", "",
        "| events | line changes | well-formed transactions answered | register-file writes | "
        "register-file reads | mismatches | build | run | total |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {summary['events']:,} | {summary['line_changes']:,} | {summary['transactions_ok']:,} | "
        f"{summary['bus_writes']:,} | {summary['bus_reads']:,} | {summary['mismatches']:,} | "
        f"{summary['build_s']:.0f} s | {summary['run_s']:.0f} s | {seconds:.0f} s |", "",
        f"Events drawn: {kinds}.", "",
        f"Verdict: {verdict}. Every line change was compared with the line-level model of the target "
        "(what it drives on SDA, every register-file write and read); a hang would show as a "
        "well-formed write and read-back that failed, a stray write as a register-file write the "
        "model did not make; the register file's outputs were compared with the model at the end.",
    ]
    if summary["first_mismatches"]:
        lines += ["", "First mismatches:", ""] + [f"* {m}" for m in summary["first_mismatches"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    design = Design.build(EncoderArch())
    say(f"I2C fuzzing: {args.events:,} events on {design.summary()}")
    with tempfile.TemporaryDirectory(prefix="asicgen-bench-fuzz-") as tmp:
        say(f"progress every 5% of the events in {Path(tmp) / 'sim' / 'sim_tb_i2c_fuzz.log'}")
        summary, seconds = timed(lambda: run_fuzz(design, Path(tmp), args.events, args.seed))
    say(f"{summary['mismatches']} mismatches, {summary['transactions_ok']} transactions answered, "
        f"{seconds:.0f} s")
    save_results(args.out, "i2c_fuzz", {"design": design.summary(), "total_s": round(seconds, 1), **summary},
                 report(summary, design, seconds))
    if not summary["passed"]:
        raise SystemExit("the fuzz run failed")


if __name__ == "__main__":
    main()
