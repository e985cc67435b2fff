"""Recompute the power columns of a cell-library synthesis benchmark from its kept work folders:
the switching activity from the activity runs' coverage files (verif.activity, as `asicgen synth`
reads them today), then OpenSTA on the same mapped netlists. For a change to how activity is
counted, without synthesising again; area and timing are left as measured.

Usage: python bench/synth_power.py KEPT_DIR ... [--results bench/results/synth_osu018.json]
KEPT_DIR: a `syn_*` output folder of bench/run_synth.py (with its work/ folder), one per II.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import say  # noqa: E402

from asicgen.core.design import Design  # noqa: E402
from asicgen.core.naming import CLOCK_MHZ  # noqa: E402
from asicgen.sta import run_sta, to_raw  # noqa: E402
from asicgen.synth import LIBERTY_FILE, NETLIST_FILE, TOP, _top_inputs, report_markdown  # noqa: E402
from verif.activity import datapath_activity, read_toggles, unwind_wide_counts  # noqa: E402


def activity_of(work: Path, ii: int, how_prefix: str):
    runs = sorted(work.glob(f"activity_ii{ii}_*"))
    if not runs:
        raise SystemExit(f"{work}: no activity run for II={ii}")
    toggles, cycles = read_toggles(runs[0] / "coverage0.dat")
    return datapath_activity(unwind_wide_counts(toggles), cycles, how_prefix)


def repower(kept: Path, rows: list[dict]) -> None:
    work = kept / "work"
    for row in rows:
        ii, dot, hardened = row["ii"], row["dot_structure"], row["build"] == "hardened"
        plain = next(r for r in rows if r["ii"] == ii and r["dot_structure"] == dot and r["build"] == "plain")
        how = row["sta"]["power"]["how"]
        if "unwound" not in how:
            how += " (counts of signals wider than 64 bits unwound, see verif/activity.py)"
        activity = activity_of(work, ii, how)
        rate = activity.global_rate(plain["block_area_um2"]["datapath"] / row["area_um2"])
        folder = work / f"yosys_{'tmr_' if hardened else ''}ii{ii}_{dot}"
        top = folder / "ae_top.v" if hardened else work / f"rtl_ii{ii}_{dot}" / "ae_top.sv"
        timing, power = run_sta(folder / LIBERTY_FILE, folder / NETLIST_FILE, TOP, _top_inputs(top), folder,
                                rate, how)
        row["sta"] = to_raw(timing, power)
        row["energy_nj"] = power.total_w * ii / (CLOCK_MHZ * 1e6) * 1e9
        say(f"II={ii} {dot} {row['build']}: activity {rate:.4f} (registers {activity.datapath:.4f}), "
            f"{power.total_w * 1e3:.1f} mW, {row['energy_nj']:.2f} nJ per inference")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kept", type=Path, nargs="+")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "synth_osu018.json")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    for kept in args.kept:
        ii = json.loads((kept / "synth.json").read_text())["results"][0]["ii"]
        repower(kept, [r for r in results["results"] if r["ii"] == ii])
    results["power_recomputed"] = ("power columns recomputed by bench/synth_power.py on the same netlists, "
                                   "activity counted as verif/activity.py does")
    args.results.write_text(json.dumps(results, indent=1) + "\n")
    design = Design.from_raw(json.loads((args.kept[0] / "synth.json").read_text())["design"])
    notes = [results["power_recomputed"]]
    markdown = report_markdown(design, results["results"], results["command"], notes=notes)
    args.results.with_suffix(".md").write_text(markdown)
    say(f"updated {args.results} and {args.results.with_suffix('.md')}")


if __name__ == "__main__":
    main()
