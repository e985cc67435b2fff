"""Cell-library benchmark: `asicgen synth` onto osu018 (180 nm) with OpenSTA, for the default
architecture: per II, plain and hardened, the area in um2 and NAND2 equivalents, the
critical path and slack at 25 ns, and the power and energy per inference with switching
activity measured in simulation of a trained network on its region's data; at II=1 also
the previous dot-product structure (`chain`) beside the carry-save one (`csa`).

Usage: python bench/run_synth.py [--ii 1 2 4 8] [--activity RUN] [--no-tmr] [--chain-at II ...] [--out DIR]
Results: DIR/synth_osu018.json and DIR/synth_osu018.md (default DIR: bench/results).
Without --activity the power columns say "not run".
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results, say, timed  # noqa: E402

from asicgen.cli import main  # noqa: E402
from asicgen.core.design import SUPPORTED_II  # noqa: E402


def run(iis: list[int], dots: list[str], activity: str | None, tmr: bool, work: Path) -> Path:
    out = work / f"syn_{'_'.join(map(str, iis))}_{'_'.join(dots)}"
    args = ["synth", "default", "--ii", *map(str, iis), "--dot", *dots, "--liberty", "osu018",
            "--out", str(out), *(["--tmr"] if tmr else []), *(["--activity", activity] if activity else [])]
    say("asicgen " + " ".join(args))
    code, seconds = timed(lambda: main(args))
    if code != 0:
        raise SystemExit(f"asicgen synth failed ({code})")
    say(f"done in {seconds / 60:.1f} min")
    return out


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ii", type=int, nargs="+", default=list(SUPPORTED_II))
    parser.add_argument("--chain-at", type=int, nargs="*", default=[1],
                        help="IIs at which the chain structure is measured too (default: 1)")
    parser.add_argument("--activity", default=None, help="a trained network of the default architecture")
    parser.add_argument("--no-tmr", action="store_true", help="plain builds only")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    rows, text = [], []
    with tempfile.TemporaryDirectory(prefix="asicgen-bench-synth-") as tmp:
        for ii in args.ii:
            dots = ["csa", "chain"] if ii in args.chain_at else ["csa"]
            out = run([ii], dots, args.activity, not args.no_tmr, Path(tmp))
            report = json.loads((out / "synth.json").read_text())
            rows += report["results"]
            text.append((out / "synth.md").read_text())
            # saved after every II: a long run interrupted keeps what it measured
            body = text[0] if len(text) == 1 else _merge(text)
            save_results(args.out, "synth_osu018", {"results": rows, "command": " ".join(sys.argv)}, body)
            say(f"results so far -> {args.out / 'synth_osu018.md'}")


def _merge(reports: list[str]) -> str:
    """One table from the per-II reports: the first report whole, the others' table rows added."""
    first = reports[0].splitlines()
    end = next(i for i, line in enumerate(first) if i > 0 and first[i - 1].startswith("|") and
               not line.startswith("|"))
    extra = [line for report in reports[1:] for line in report.splitlines()
             if line.startswith("| ") and not line.startswith("| II ")]
    return "\n".join(first[:end] + extra + first[end:]) + "\n"


if __name__ == "__main__":
    main_bench()
