"""The whole flow on one region: train -> weight image -> HLS + C simulation -> RTL ->
TMR -> upset rates -> RTL simulation of the plain and the hardened ae_top, with a summary
of every stage's result and time.

The flow folder is staged whole and swapped in at the end (see `asicgen.core.outputs`).
A run that fails after training is still moved into place with its manifest saying
so, for inspection; an interrupted run leaves the previous flow folder as it was.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from asicgen.core.artefacts import IP_PARTS, HardenedRtl
from asicgen.core.atomic import write_text
from asicgen.core.image import write_image
from asicgen.core.naming import CLOCK_MHZ
from asicgen.core.outputs import FLOW_KIND, MANIFEST, REPORT_KIND, staged_folder, write_manifest
from asicgen.core.render import write_tree
from asicgen.csim import run_csim
from asicgen.generate import ip_fields
from asicgen.harden import generate_hardened_top
from asicgen.hls import generate_hls
from asicgen.report import REPORT_FOLDER, REPORT_HTML, REPORT_MD, build_report, render_report
from asicgen.rtl import generate_rtl
from asicgen.sources import load_network
from tmr.rate import Environment, figures, load_inventory, stamped_markdown, summary_line
from training.train import train_region
from verif.flow_check import streamed_modules, verify_hardened_top, verify_top


@dataclass
class Stage:
    name: str
    result: str = "not run"
    ok: bool | None = None
    seconds: float = 0.0


@dataclass
class FlowLog:
    """Progress lines while the flow runs, and the summary at its end."""

    stream: TextIO
    stages: list[Stage] = field(default_factory=list)

    def line(self, text: str) -> None:
        print(f"[flow] {text}", file=self.stream, flush=True)

    @contextmanager
    def stage(self, name: str, doing: str) -> Iterator[Stage]:
        stage = Stage(name)
        self.stages.append(stage)
        self.line(f"stage {len(self.stages)}/{len(STAGES)} {name}: {doing}")
        t0 = time.perf_counter()
        try:
            yield stage
        except BaseException:
            stage.ok, stage.result = False, "error"
            raise
        finally:
            stage.seconds = time.perf_counter() - t0
        if stage.ok is None:
            stage.ok = True

    def summary(self, out: Path) -> str:
        width = max(len(s.name) for s in self.stages) if self.stages else 5
        lines = [f"summary of {out}",
                 f"  {'stage':<{width}}  {'':4}  {'time':>7}  result"]
        for s in self.stages:
            mark = {True: "ok", False: "FAIL", None: "-"}[s.ok]
            lines.append(f"  {s.name:<{width}}  {mark:4}  {s.seconds:6.0f}s  {s.result}")
        total = sum(s.seconds for s in self.stages)
        lines.append(f"  {'total':<{width}}  {'':4}  {total:6.0f}s")
        return "\n".join(lines)

    def to_raw(self) -> list[dict[str, object]]:
        return [{"stage": s.name, "ok": s.ok, "seconds": round(s.seconds, 1), "result": s.result}
                for s in self.stages]


STAGES = ("train", "image", "hls", "csim", "rtl", "tmr", "seu-rate", "verify rtl", "verify rtl_tmr", "report")

#: the upset-rate figures of the flow (default cross-section and flux), beside the manifest
SEU_RATE_FILE = "seu_rate.md"


def write_seu_rate(flow_dir: Path, command: str, shown: Path | None = None) -> str:
    """Upset rates of the hardened ae_top in `flow_dir`/rtl_tmr, at the default cross-section
    and flux, into `flow_dir`/seu_rate.md; returns the one-line summary. The stamp names the
    folder as `shown` (default: `flow_dir`), where a staged flow folder will be."""
    hardened = HardenedRtl.open(Path(flow_dir) / IP_PARTS["hardened"])
    fig = figures(load_inventory(hardened.tmr_report), Environment(clock_mhz=CLOCK_MHZ))
    named = hardened.tmr_report.relative_to(flow_dir)
    write_text(Path(flow_dir) / SEU_RATE_FILE,
               stamped_markdown(fig, hardened.tmr_report, command, SEU_RATE_FILE,
                                Path(shown if shown is not None else flow_dir) / named))
    return summary_line(fig)


def run_flow(job, out: Path, command: str, force: bool = False, stream: TextIO | None = None) -> bool:
    """Run every stage into the flow folder `out`; True when every check passed.

    `command` is the flow's own command line: every generated file's stamp and the manifest
    name it as the command that regenerates them."""

    log = FlowLog(stream if stream is not None else sys.stderr)
    out = Path(out)
    t0 = time.perf_counter()
    ok = False
    network = None
    with staged_folder(out, FLOW_KIND, force=force, keep_on_error=True) as stage_dir:
        def finish(status: str) -> None:
            fields = {"command": command} if network is None else ip_fields(network, command, out / "train")
            write_manifest(stage_dir, FLOW_KIND, {**fields, "status": status, "region": job.region.name,
                                                  "stages": log.to_raw(),
                                                  "seconds": round(time.perf_counter() - t0, 1)})

        try:
            with log.stage("train", f"region {job.region.name} -> {out / 'train'}") as s:
                trained = train_region(job, stage_dir / "train", log.stream, command=command,
                                       shown=out / "train")
                emd = trained.metrics["emd"]["autoencoder"]["all"]["median"]
                s.result = f"{trained.metrics['epochs_run']} epochs, median EMD {emd:.4f}"
            network = load_network(stage_dir / "train", ii=1)
            with log.stage("image", f"weight image, I2C transactions, register map -> {out / 'image'}") as s:
                image = write_image(stage_dir / "image", network.weights, network.elinks, command)
                s.result = f"{network.design.image_bytes} bytes, {len(image.writes)} I2C writes"
            with log.stage("hls", f"HLS C++ (II=1) -> {out / 'hls'}") as s:
                generate_hls(stage_dir / "hls", network.weights, command)
                s.result = network.design.summary()
            with log.stage("csim", "C simulation (g++) against the bit-exact model") as s:
                csim = run_csim(stage_dir / "hls")
                for note in csim.first_mismatches:
                    log.line(f"csim mismatch: {note}")
                s.ok = csim.mismatches == 0
                s.result = f"{csim.modules} modules, {csim.mismatches} mismatches"
            with log.stage("rtl", f"RTL (II=1) -> {out / 'rtl'}") as s:
                generate_rtl(stage_dir / "rtl", network.design, command)
                s.result = "ae_top and submodules, SystemVerilog"
            with log.stage("tmr", f"TMR-hardened ae_top -> {out / 'rtl_tmr'} (yosys, about a minute)") as s:
                hardened = generate_hardened_top(stage_dir / "rtl", stage_dir / "rtl_tmr", network.design,
                                                 command)
                report = hardened.report
                s.result = (f"{len(report.triplicated)} registers triplicated, flip-flop bits "
                            f"{report.bits_before} -> {report.bits_after}; {hardened.proof.line()}")
            with log.stage("seu-rate", f"upset rates at the default cross-section and flux -> "
                                       f"{out / SEU_RATE_FILE}") as s:
                s.result = write_seu_rate(stage_dir, f"asicgen seu-rate {out}", out)
            for name, verify, rtl in (("verify rtl", verify_top, "rtl"),
                                      ("verify rtl_tmr", verify_hardened_top, "rtl_tmr")):
                with log.stage(name, f"cocotb + Verilator: {rtl}/ae_top streaming against the bit-exact "
                                     "model (the Verilator build takes a few minutes)") as s:
                    sim = verify(stage_dir / rtl, network.weights, stage_dir / "sim" / rtl)
                    s.ok = sim.failed == 0 and sim.tests > 0
                    s.result = (f"{sim.tests - sim.failed} of {sim.tests} cocotb tests passed (build "
                                f"{sim.build_seconds:.0f}s, run {sim.run_seconds:.0f}s)")
                    if s.ok:
                        modules = streamed_modules(stage_dir / "sim" / rtl)
                        s.result = f"{modules} modules streamed bit-exact, " + s.result
                    else:
                        s.result += f"; see {out / 'sim' / rtl / sim.results_xml.name}"
            ok = all(s.ok for s in log.stages)
            with log.stage("report", f"one page on the region and its IP -> "
                                     f"{out / REPORT_FOLDER / REPORT_HTML}") as s:
                # the stage log so far goes into the report: the manifest is written first, then again
                finish("passed" if ok else "failed")
                files = render_report(build_report(stage_dir, shown=out), command)
                write_tree(stage_dir / REPORT_FOLDER, files, {"kind": REPORT_KIND, "source": str(out)})
                s.result = f"{REPORT_FOLDER}/{REPORT_HTML}, {REPORT_FOLDER}/{REPORT_MD}"
            ok = all(s.ok for s in log.stages)
            finish("passed" if ok else "failed")
        except KeyboardInterrupt:
            raise
        except BaseException:
            finish("error")
            log.line(log.summary(out))
            raise
    log.line(log.summary(out))
    log.line(f"{'PASSED' if ok else 'FAILED'}: every artefact is in {out} (summary in "
             f"{out / MANIFEST})")
    return ok

