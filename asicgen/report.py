"""One page on a region's compression and its IP: `asicgen report` and the flow's last stage.

The report reads what the other commands wrote (a training run, or a flow folder with its
training run, image, hardened RTL, upset rates and stage log, and optionally a synthesis
report) into one typed `Report`, and renders it twice from jinja2 templates: a
self-contained HTML page (plots embedded) and the same content as Markdown (plots beside).
Nothing is recomputed that a command already measured; what a folder does not hold is
left out with a sentence saying how to get it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from asicgen import __version__
from asicgen.core.design import Design
from asicgen.core.i2c import DEFAULT_BURST
from asicgen.core.image import BYTE_CYCLES, program_cycles, transactions
from asicgen.core.outputs import FLOW_KIND, SYNTH_KIND, TRAIN_KIND, read_manifest
from asicgen.core.raw import ConfigError
from asicgen.core.regmap import RegisterMap
from asicgen.core.render import Stamp, combined_sha256
from asicgen.sources import load_network

REPORT_HTML, REPORT_MD = "report.html", "report.md"
#: where the flow writes its report
REPORT_FOLDER = "report"
#: I2C clock rates the programming time is given at (Hz)
SCL_RATES = (100e3, 400e3, 1e6)
#: the training run's plots, with their captions
PLOTS = (("emd_vs_occupancy.png", "Median EMD vs occupancy (68% band), autoencoder and baselines at the "
                                  "region's bit budget"),
         ("loss.png", "Training and validation loss"))
METHOD_NAMES = {"autoencoder": "autoencoder (this IP)", "threshold": "threshold",
                "best_choice": "best choice", "stc4": "super trigger cells (4)",
                "stc16": "super trigger cells (16)"}


@dataclass(frozen=True)
class EmdRow:
    method: str
    #: per occupancy bin: "median [low, high]" or "-"
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Plot:
    name: str
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class Row:
    """A generic table row: its cells as text."""

    cells: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[Row, ...]
    note: str = ""


@dataclass(frozen=True)
class Report:
    title: str
    summary: tuple[tuple[str, str], ...]
    emd_bins: tuple[str, ...]
    emd_rows: tuple[EmdRow, ...]
    plots: tuple[Plot, ...]
    tables: tuple[Table, ...]
    #: (what is not in the folder, the command that makes it)
    missing: tuple[tuple[str, str], ...]
    commands: tuple[tuple[str, str], ...]


# -- reading -------------------------------------------------------------------------------


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: cannot read ({err})") from err


def locate(folder: Path) -> tuple[Path, Path | None]:
    """(training run, flow folder or None) of a training run or a flow folder."""
    manifest = read_manifest(folder)
    kind = manifest.get("kind") if manifest else None
    if kind == TRAIN_KIND:
        return folder, None
    if kind == FLOW_KIND and read_manifest(folder / "train") is not None:
        return folder / "train", folder
    raise ConfigError(f"{folder}: not a training run or a flow folder written by asicgen "
                      "(`asicgen train --out` or `asicgen flow --out`)")


def _emd(metrics: dict[str, Any]) -> tuple[tuple[str, ...], tuple[EmdRow, ...]]:
    emd = metrics["emd"]
    bins = tuple(emd["autoencoder"])
    rows = []
    for method, per_bin in emd.items():
        cells = tuple(f"{b['median']:.3f} [{b['low68']:.3f}, {b['high68']:.3f}]" if b and b.get("count")
                      else "-" for b in (per_bin.get(name) for name in bins))
        rows.append(EmdRow(METHOD_NAMES.get(method, method), cells))
    return bins, tuple(rows)


def _registers(design: Design) -> Table:
    regmap = RegisterMap.for_design(design)
    window = regmap.weights
    rows = [Row((f"0x{window.base:04X}-0x{window.last:04X}", "weights", "rw",
                 f"{window.n_words} weights x {window.word_bits} bits, packed LSB first", "0"))]
    for reg in regmap.registers:
        fields = "; ".join(f"{f.name} [{f.msb}:{f.lsb}] {f.access}" for f in reg.fields)
        rows.append(Row((f"0x{reg.address:04X}", reg.name, reg.access, fields, f"0x{reg.reset:02X}")))
    return Table("Register map", ("address", "register", "access", "fields", "reset"), tuple(rows))


def _i2c(network) -> Table:
    writes = transactions(network.weights, network.elinks, DEFAULT_BURST)
    cycles = program_cycles(writes)
    rows = tuple(Row((f"{rate / 1e6:g} MHz" if rate >= 1e6 else f"{rate / 1e3:g} kHz",
                      f"{cycles / rate * 1e3:.1f} ms")) for rate in SCL_RATES)
    return Table("I2C programming time (whole image and e-link mode)", ("SCL", "time"), rows,
                 f"{len(writes)} write transactions of up to {DEFAULT_BURST} data bytes, {cycles:,} SCL "
                 f"cycles ({BYTE_CYCLES} per byte with its acknowledge)")


def _stages(flow: Path) -> Table:
    manifest = read_manifest(flow) or {}
    # a stage still running (the flow's own report stage) has no outcome yet
    stages = [s for s in manifest.get("stages", []) if s["ok"] is not None]
    rows = tuple(Row((s["stage"], "passed" if s["ok"] else "FAILED", f"{s['seconds']:.0f} s",
                      s["result"] or "")) for s in stages)
    total = sum(s["seconds"] for s in stages)
    return Table("Flow stages: verification counts and times", ("stage", "status", "time", "result"), rows,
                 f"status {manifest.get('status', 'unknown')}, {total / 60:.1f} min in all")


def _synth(folder: Path) -> Table:
    rows = []
    for r in _json(folder / "synth.json")["results"]:
        sta = r.get("sta") or {}
        timing = sta.get("timing") or {}
        power = sta.get("power") or {}
        rows.append(Row((
            str(r["ii"]), r.get("build", "plain"), r.get("dot_structure", "-"), f"{r['flops']:,}",
            f"{r['area_um2']:,.0f}" if r.get("area_um2") else "-",
            f"{r['nand2_eq']:,.0f}" if r.get("nand2_eq") else f"{r.get('ge', 0):,.0f} GE",
            f"{timing['arrival_ns']:.2f}" if timing else "-", f"{timing['slack_ns']:+.2f}" if timing else "-",
            f"{power['total_w'] * 1e3:.2f}" if power else "-",
            f"{r['energy_nj']:.2f}" if r.get("energy_nj") is not None else "-")))
    return Table("Synthesis", ("II", "build", "dot products", "flip-flops", "area (um2)", "NAND2 eq.",
                               "critical path (ns)", "slack (ns)", "power (mW)", "energy/inference (nJ)"),
                 tuple(rows), f"from {folder / 'synth.json'}")


def build_report(folder: Path, synth: Path | None = None) -> Report:
    run, flow = locate(folder)
    metrics = _json(run / "metrics.json")
    network = load_network(run, ii=1)
    design = network.design
    bins, emd_rows = _emd(metrics)
    plots = tuple(Plot(name, caption, (run / "plots" / name).read_bytes())
                  for name, caption in PLOTS if (run / "plots" / name).is_file())
    summary = (("region", f"{metrics['region']} ({metrics['elinks']} e-links, {metrics['output_bits']} bits "
                          f"per output, {metrics['budget_bits']} bits per module)"),
               ("IP", design.summary()),
               ("training", f"{metrics['epochs_run']} epochs, {metrics['train_seconds'] / 60:.1f} min, "
                            f"{metrics['modules']['training']:,} training modules, "
                            f"{metrics['modules']['scored']:,} scored"),
               ("weights sha256", metrics["weights_sha256"]))
    tables = [_registers(design), _i2c(network)]
    missing = []
    seed = metrics["settings"]["seed"]
    commands = [("retrain", f"asicgen train --region {metrics['region']} --seed {seed} --out {run}")]
    if flow is not None:
        tables.append(_stages(flow))
        flow_command = (read_manifest(flow) or {}).get("command", f"asicgen flow --out {flow}")
        commands.append(("the whole flow", flow_command))
    else:
        missing.append(("Verification counts and stage times: run the whole flow and report on its folder",
                        "asicgen flow --out DIR"))
    synth_folder = synth if synth is not None else (flow / "synth" if flow is not None else None)
    if synth_folder is not None and read_manifest(synth_folder) is not None:
        if (read_manifest(synth_folder) or {}).get("kind") != SYNTH_KIND:
            raise ConfigError(f"{synth_folder}: not a synthesis report written by `asicgen synth`")
        tables.append(_synth(synth_folder))
        commands.append(("synthesis", (read_manifest(synth_folder) or {}).get("command", "asicgen synth")))
    else:
        missing.append(("Area, flip-flops, timing and power per II, plain and hardened: synthesise, then "
                        "report with --synth DIR",
                        "asicgen synth default --ii 1 2 4 8 --liberty osu018 --tmr --out DIR"))
    commands.append(("the IP", f"asicgen generate {run} --out ip --tmr"))
    title = f"asicgen report: region {metrics['region']}, {design.arch.layout} encoder"
    return Report(title, summary, bins, emd_rows, plots, tuple(tables), tuple(missing), tuple(commands))


# -- rendering ------------------------------------------------------------------------------


def _environment(autoescape: bool) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("asicgen", "templates/report"),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True, autoescape=autoescape)


def render_report(report: Report, command: str) -> dict[str, str | bytes]:
    """{file name: content}: the HTML page, the Markdown page and the plots it links."""
    digest = combined_sha256(report.title, *(p.name + base64.b64encode(p.png).decode() for p in report.plots),
                             json.dumps([t.rows for t in report.tables], default=str))
    stamp = Stamp(report.title, digest, command)
    html = _environment(True).get_template("report.html.j2").render(report=report, version=__version__)
    markdown = _environment(False).get_template("report.md.j2").render(report=report, version=__version__)
    files: dict[str, str | bytes] = {REPORT_HTML: stamp.header(REPORT_HTML) + html,
                                     REPORT_MD: stamp.header(REPORT_MD) + markdown}
    files.update({p.name: p.png for p in report.plots})
    return files
