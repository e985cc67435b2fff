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

import jinja2

from asicgen import __version__
from asicgen.core.artefacts import ArtefactError, FlowFolder, SynthReport, TrainMetrics, TrainRun
from asicgen.core.design import Design
from asicgen.core.i2c import DEFAULT_BURST
from asicgen.core.image import BYTE_CYCLES, program_cycles, transactions
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


def locate(folder: Path) -> tuple[TrainRun, FlowFolder | None]:
    """(training run, flow folder or None) of a training run or a flow folder."""
    run = TrainRun.find(folder)
    if run is not None:
        return run, None
    try:
        flow = FlowFolder.read_log(folder)
    except ArtefactError:
        flow = None
    run = flow.train_run() if flow is not None else None
    if flow is None or run is None:
        raise ConfigError(f"{folder}: not a training run or a flow folder written by asicgen "
                          "(`asicgen train --out` or `asicgen flow --out`)")
    return run, flow


def _emd(metrics: TrainMetrics) -> tuple[tuple[str, ...], tuple[EmdRow, ...]]:
    bins = tuple(metrics.emd["autoencoder"])
    rows = []
    for method, per_bin in metrics.emd.items():
        cells = tuple(f"{b.median:.3f} [{b.low68:.3f}, {b.high68:.3f}]" if b is not None else "-"
                      for b in (per_bin.get(name) for name in bins))
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


def _stages(flow: FlowFolder) -> Table:
    # a stage still running (the flow's own report stage) has no outcome yet
    stages = [s for s in flow.stages() if s.ok is not None]
    rows = tuple(Row((s.stage, "passed" if s.ok else "FAILED", f"{s.seconds:.0f} s", s.result))
                 for s in stages)
    total = sum(s.seconds for s in stages)
    return Table("Flow stages: verification counts and times", ("stage", "status", "time", "result"), rows,
                 f"status {flow.status}, {total / 60:.1f} min in all")


def _synth(synth: SynthReport) -> Table:
    rows = []
    for r in synth.rows:
        rows.append(Row((
            str(r.ii), r.build, r.dot_structure, f"{r.flops:,}",
            f"{r.area_um2:,.0f}" if r.area_um2 else "-",
            f"{r.nand2_eq:,.0f}" if r.nand2_eq else f"{r.gate_equivalents or 0:,.0f} GE",
            f"{r.arrival_ns:.2f}" if r.arrival_ns is not None else "-",
            f"{r.slack_ns:+.2f}" if r.slack_ns is not None else "-",
            f"{r.power_w * 1e3:.2f}" if r.power_w is not None else "-",
            f"{r.energy_nj:.2f}" if r.energy_nj is not None else "-")))
    return Table("Synthesis", ("II", "build", "dot products", "flip-flops", "area (um2)", "NAND2 eq.",
                               "critical path (ns)", "slack (ns)", "power (mW)", "energy/inference (nJ)"),
                 tuple(rows), f"from {synth.report_file}")


def build_report(folder: Path, synth: Path | None = None, shown: Path | None = None) -> Report:
    """The report on `folder`; commands and paths name it as `shown` (default: `folder`), so a
    report written while the folder is staged names where it will be."""
    run, flow = locate(folder)
    shown = Path(shown) if shown is not None else Path(folder)
    metrics = run.metrics()
    network = load_network(run.folder, ii=1)
    design = network.design
    bins, emd_rows = _emd(metrics)
    plots = tuple(Plot(name, caption, png) for name, caption in PLOTS if (png := run.plot(name)) is not None)
    summary = (("region", f"{metrics.region} ({metrics.elinks} e-links, {metrics.output_bits} bits "
                          f"per output, {metrics.budget_bits} bits per module)"),
               ("IP", design.summary()),
               ("training", f"{metrics.epochs_run} epochs, {metrics.train_seconds / 60:.1f} min, "
                            f"{metrics.training_modules:,} training modules, "
                            f"{metrics.scored_modules:,} scored"),
               ("weights sha256", metrics.weights_sha256))
    tables = [_registers(design), _i2c(network)]
    missing: list[tuple[str, str]] = []
    run_shown = shown / "train" if flow is not None else shown
    commands = []
    if flow is None or run.command != flow.command:  # in a flow folder, the flow's command made the run
        commands.append(("the training run", run.command
                         or f"asicgen train --region {metrics.region} --seed {metrics.seed} --out train"))
    if flow is not None:
        tables.append(_stages(flow))
        commands.append(("the whole flow", flow.command or f"asicgen flow --out {shown}"))
        commands.append(("regressions of this IP", f"asicgen regress {shown} --out regress"))
        commands.append(("retrain another region for this IP",
                         f"asicgen region retrain --ip {shown} --region ceh_front --out retrain"))
        commands.append(("upset rates", f"asicgen seu-rate {shown}"))
    else:
        missing.append(("Verification counts and stage times: run the whole flow and report on its folder",
                        "asicgen flow --out DIR"))
    synth_folder = synth if synth is not None else (flow.folder / "synth" if flow is not None else None)
    found = SynthReport.find(synth_folder) if synth_folder is not None else None
    if synth is not None and found is None:
        found = SynthReport.open(synth)  # names what is wrong with the folder given
    if found is not None:
        tables.append(_synth(found))
        commands.append(("synthesis", found.command or "asicgen synth"))
    else:
        missing.append(("Area, flip-flops, timing and power per II, plain and hardened: synthesise, then "
                        "report with --synth DIR",
                        "asicgen synth default --ii 1 2 4 8 --liberty osu018 --tmr --out DIR"))
    commands.append(("an IP of these weights", f"asicgen generate {run_shown} --out ip --tmr"))
    commands.append(("this report", f"asicgen report {shown} --out report"))
    title = f"asicgen report: region {metrics.region}, {design.arch.layout} encoder"
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
