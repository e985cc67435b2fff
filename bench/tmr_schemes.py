"""The cost and the gain of each TMR scheme for the state, side by side, from measured runs.

Area: `asicgen synth default --ii II --liberty osu018 --tmr` outputs (their `synth.json`),
one or more per scheme (one per II): the plain build, the one-voter scheme (`full-shared`) and full module
triplication (`full`). Rates: `asicgen seu-rate ... --out R.json` of the two hardened
builds' TMR reports (upsets and transients, the default environment).

Usage: python bench/tmr_schemes.py --synth full=DIR [full=DIR2 full-shared=DIR ...] --rates full=R.json
       full-shared=R.json [--out DIR]
SCHEME=PATH: a synth output folder, or a synth JSON of the same form (the one-voter rows of
bench/results/synth_osu018.json, measured when that scheme was the default). A synth run holds
the plain row too; it is taken from the first that has it. Only the IIs with a `full` row are shown.
Results: DIR/tmr_schemes.json and DIR/tmr_schemes.md (default DIR: bench/results).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results  # noqa: E402

SCHEMES = ("full-shared", "full")


def pairs(items: list[str], what: str) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for item in items:
        scheme, _, path = item.partition("=")
        if scheme not in SCHEMES or not path:
            raise SystemExit(f"{what} {item!r}: expected SCHEME=PATH with SCHEME one of {', '.join(SCHEMES)}")
        out.append((scheme, Path(path)))
    return out


def synth_rows(folders: list[tuple[str, Path]]) -> list[dict[str, Any]]:
    """(ii, scheme) rows: area, NAND2 eq., flip-flops, slack, from each scheme's synth.json."""
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for scheme, folder in folders:
        raw = json.loads((folder / "synth.json" if folder.is_dir() else folder).read_text())
        made_by = f"`{raw.get('command', folder)}`"
        for r in raw["results"]:
            if r["dot_structure"] != "csa":
                continue
            name = "plain" if r["build"] == "plain" else scheme
            timing = (r.get("sta") or {}).get("timing") or {}
            rows.setdefault((r["ii"], name), {
                "ii": r["ii"], "scheme": name, "dot": r["dot_structure"], "area_um2": r["area_um2"],
                "nand2_eq": r["nand2_eq"], "flops": r["flops"], "cells": r["cells"],
                "slack_ns": timing.get("slack_ns"), "source": made_by})
    order = {"plain": 0, "full-shared": 1, "full": 2}
    shown = {ii for ii, scheme in rows if scheme == "full"}
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0], order[k[1]])) if k[0] in shown]


def rate_row(scheme: str, path: Path) -> dict[str, Any]:
    raw = json.loads(path.read_text())
    return {"scheme": scheme, "source": f"`{raw.get('command', path)}`",
            "upsets_per_hour": raw["total"]["uncorrected_per_hour"],
            "uncorrected_per_hour": raw["uncorrected_per_hour"]}


def markdown(result: dict[str, Any]) -> str:
    lines = ["# TMR schemes for the state: area in osu018 and the rates that justify it", "",
             f"Assembled {result['date']} from measured runs (bench/tmr_schemes.py): default architecture, "
             "`csa` dot products, `asicgen synth --liberty osu018 --tmr` per scheme; `asicgen seu-rate` at "
             "its default (assumed) cross-sections and flux.", "",
             "| II | build | flip-flops | cells | area (um2) | NAND2 eq. | vs plain | slack at 25 ns (ns) |",
             "|---|---|---|---|---|---|---|---|"]
    plain = {r["ii"]: r for r in result["area"] if r["scheme"] == "plain"}
    for r in result["area"]:
        base = plain.get(r["ii"])
        ratio = f"x{r['nand2_eq'] / base['nand2_eq']:.2f}" if base else "-"
        slack = "-" if r["slack_ns"] is None else f"{r['slack_ns']:+.2f}"
        lines.append(f"| {r['ii']} | {r['scheme']} | {r['flops']:,} | {r['cells']:,} | "
                     f"{r['area_um2']:,.0f} | {r['nand2_eq']:,.0f} | {ratio} | {slack} |")
    lines += ["", "| scheme | upsets not corrected per hour | upsets and transients not corrected per hour | "
              "MTBF, one chip |", "|---|---|---|---|"]
    for r in result["rates"]:
        lines.append(f"| {r['scheme']} | {r['upsets_per_hour']:.3g} | {r['uncorrected_per_hour']:.3g} | "
                     f"{1 / r['uncorrected_per_hour']:.3g} h |")
    sources = sorted({r["source"] for r in [*result["area"], *result["rates"]]})
    lines += ["", "Made by: " + "; ".join(sources) + ". The TMR reports the rates read: `asicgen tmr` "
              "on the files of examples/default/rtl/files.f with "
              "`--full-scheme SCHEME -o build/rates/SCHEME/ae_top.v`.",
              ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synth", nargs="+", required=True, help="SCHEME=FOLDER of asicgen synth --tmr")
    parser.add_argument("--rates", nargs="+", default=[], help="SCHEME=FILE of asicgen seu-rate --out F.json")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "area": synth_rows(pairs(args.synth, "--synth")),
              "rates": [rate_row(s, p) for s, p in pairs(args.rates, "--rates")]}
    text = markdown(result)
    save_results(args.out, "tmr_schemes", result, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
