"""`asicgen generate`: a trained network -> an IP folder (RTL, weight image, optionally the
TMR-hardened ae_top, the HLS project and synthesis reports), with one manifest naming them.

The parts are written by the same functions the flow's stages call (`generate_rtl`,
`write_image`, `generate_hardened_top`, `generate_hls`), and both manifests carry
`ip_fields`, so a generate folder and a flow folder are the same kind of IP to every
daily job (`asicgen.core.artefacts.Ip`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from asicgen.core.artefacts import IP_PARTS, Artefact
from asicgen.core.design import Design
from asicgen.core.image import write_image
from asicgen.core.outputs import GENERATE_KIND, MANIFEST, staged_folder, write_manifest
from asicgen.dot_tree import DEFAULT_DOT_STRUCTURE
from asicgen.harden import generate_hardened_top
from asicgen.hls import generate_hls
from asicgen.rtl import generate_rtl
from asicgen.sources import TrainedNetwork
from asicgen.synth import synth_command, synthesise_rtl, write_report
from tmr.flow import check_survival
from tmr.transform import Report


@dataclass(frozen=True)
class GenerateOptions:
    #: dot-product structure of the RTL (`asicgen.dot_tree.DOT_STRUCTURES`)
    dot: str = DEFAULT_DOT_STRUCTURE
    #: also the TMR-hardened ae_top (rtl_tmr/)
    tmr: bool = False
    #: also the HLS project (hls/)
    hls: bool = True
    #: also synthesise ae_top (synth/), and with `tmr` the hardened one (synth_tmr/)
    synth: bool = False


def ip_fields(network: TrainedNetwork, command: str, source: Path | None = None) -> dict[str, Any]:
    """The manifest fields every IP carries, whichever command wrote it; `source` names the
    network's source where it differs from where it was read (a staged training run)."""
    design = network.design
    shown = source if source is not None else network.source
    return {"command": command, "source": str(shown), "region": network.region,
            "elinks": network.elinks, "design": design.to_raw(), "design_sha256": design.digest(),
            "weights_sha256": network.weights.digest(), "ii": design.ii, "latency": design.latency}


def generate_ip(out: Path, network: TrainedNetwork, options: GenerateOptions, command: str,
                force: bool = False, stream: TextIO | None = None) -> None:
    """Write the IP of `network` into `out`, staged whole beside it and swapped in at the end, so
    a folder never mixes parts of two runs (e.g. an old hls/ beside a new rtl/)."""
    log = stream if stream is not None else sys.stderr
    t0 = time.perf_counter()
    design = network.design
    with staged_folder(out, GENERATE_KIND, force=force) as stage:
        parts = {name: stage / IP_PARTS[name] for name in ("rtl", "image")}
        generate_rtl(parts["rtl"], design, command, options.dot)
        print(f"[generate] RTL of {design.summary()} -> {out / IP_PARTS['rtl']}", file=log)
        write_image(parts["image"], network.weights, network.elinks, command)
        print(f"[generate] weight image and register map -> {out / IP_PARTS['image']}", file=log)
        report = None
        if options.tmr:
            parts["hardened"] = stage / IP_PARTS["hardened"]
            print("[generate] TMR: hardening ae_top with yosys (about a minute for the default "
                  "architecture)", file=log)
            hardened = generate_hardened_top(parts["rtl"], parts["hardened"], design, command)
            report = hardened.report
            print(f"[generate] TMR: {len(report.triplicated)} registers triplicated, flip-flop bits "
                  f"{report.bits_before} -> {report.bits_after}; {hardened.proof.line()} -> "
                  f"{out / IP_PARTS['hardened']}", file=log)
        if options.hls:
            parts["hls"] = stage / IP_PARTS["hls"]
            generate_hls(parts["hls"], network.weights, command)
            print(f"[generate] HLS project -> {out / IP_PARTS['hls']}", file=log)
        listing = {IP_PARTS[name]: {"directory": IP_PARTS[name], "files": Artefact.open(path).file_names()}
                   for name, path in parts.items()}
        if options.synth:
            synth_command(str(parts["rtl"]), [design.ii], stage / "synth", command)
            if report is not None:
                line = _synth_hardened(parts["hardened"], stage / "synth_tmr", design, report, command)
                print(f"[generate] hardened ae_top synthesised: {line} -> {out / 'synth_tmr'}", file=log)
        write_manifest(stage, GENERATE_KIND, {**ip_fields(network, command), "parts": listing})
    print(f"[generate] done in {time.perf_counter() - t0:.1f}s; manifest {out / MANIFEST}", file=log)


def _synth_hardened(rtl_tmr: Path, out: Path, design: Design, report: Report, command: str) -> str:
    """Synthesise the hardened ae_top and check that every replica survived; the check's line."""
    result = synthesise_rtl(rtl_tmr, out / "yosys")
    line = check_survival(result.flops, report)
    write_report(out, design, [result], command, build="TMR-hardened", notes=[line])
    return line
