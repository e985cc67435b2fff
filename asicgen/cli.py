"""The `asicgen` command line: parses the options (`asicgen.cli_options`) and calls the layer
that owns each job; no command does more here than turn its options into a call."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from asicgen.cli_options import build_parser
from asicgen.cluster import load_cluster
from asicgen.core.atomic import install_interrupt_handler
from asicgen.core.image import load_image, program_cycles, write_image
from asicgen.core.outputs import (
    FLOW_KIND,
    GENERATE_KIND,
    HLS_KIND,
    IMAGE_KIND,
    REPORT_KIND,
    SYNTH_KIND,
    TRAIN_KIND,
    check_file_output,
)
from asicgen.core.outputs import check_folder_output as check_out
from asicgen.core.raw import ConfigError
from asicgen.core.render import write_tree
from asicgen.csim import CsimError, load_project, run_csim
from asicgen.dump import compare, read_dump
from asicgen.gate import GateSimError, gatesim_command
from asicgen.generate import GenerateOptions, generate_ip
from asicgen.hls import generate_hls
from asicgen.liberty import LibertyError, read_library
from asicgen.region import retrain
from asicgen.regress import RegressOptions, run_regress
from asicgen.report import REPORT_HTML, REPORT_MD, build_report, render_report
from asicgen.seu_rate import seu_rate_command
from asicgen.sources import load_network
from asicgen.sweep import run_sweep
from asicgen.synth import SynthError, synth_command
from asicgen.synth_activity import activity_for
from asicgen.tmr_command import harden_files
from tmr.rate import Environment
from tmr.transform import TmrError
from tmr.yosys import YosysError
from training.data import DataError, is_module_file, region_modules
from training.regions import DEFAULT_REGION, preset, preset_names, resolve_region
from verif.runner import SimulationError
from verif.vectors import standard_vectors

#: what a command's failure can raise that is the user's to fix: one line, exit status 2
USER_ERRORS = (ConfigError, DataError, CsimError, YosysError, SynthError, TmrError, SimulationError,
               LibertyError, GateSimError)


def _job(args: argparse.Namespace):
    # training.train imports TensorFlow (seconds): only the commands that train pay for it
    from training.train import load_job, with_overrides

    job = load_job(args.region or DEFAULT_REGION, args.arch)
    return with_overrides(job, seed=args.seed, epochs=args.epochs, modules=args.modules,
                          loss=args.loss, eval_modules=args.eval_modules)


def _region_inputs(region_arg: str | None, region) -> list[Path]:
    """The files a region reads: the region file (not a preset name) and its data files."""
    region_file = [Path(region_arg)] if region_arg and Path(region_arg).suffix else []
    return [*region_file, *region.data_files]


def cmd_train(args: argparse.Namespace) -> int:
    # before anything imports TensorFlow: a path asicgen may not write fails at once
    check_out(Path(args.out), TRAIN_KIND, force=args.force)
    from training.train import train_region  # TensorFlow: after the cheap checks

    job = _job(args)
    check_out(Path(args.out), TRAIN_KIND, force=args.force, inputs=_region_inputs(args.region, job.region))
    train_region(job, Path(args.out), force=args.force, command=args.command_line)
    return 0


def cmd_flow(args: argparse.Namespace) -> int:
    from asicgen.flow import run_flow  # imports TensorFlow (training)

    out = Path(args.out)
    check_out(out, FLOW_KIND, force=args.force)
    job = _job(args)
    check_out(out, FLOW_KIND, force=args.force, inputs=_region_inputs(args.region, job.region))
    return 0 if run_flow(job, out, args.command_line, force=args.force) else 1


def cmd_describe(args: argparse.Namespace) -> int:
    network = load_network(Path(args.source), args.ii)
    design = network.design
    print(json.dumps({"summary": design.summary(), "design": design.to_raw(),
                      "design_sha256": design.digest(), "weights_sha256": network.weights.digest(),
                      "region": network.region, "elinks": network.elinks, "latency": design.latency,
                      "ii": design.ii, "weights": design.n_weights, "image_bytes": design.image_bytes},
                     indent=1))
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    check_out(Path(args.out), IMAGE_KIND, force=args.force, inputs=[Path(args.source)])
    network = load_network(Path(args.source))
    elinks = args.elinks if args.elinks is not None else network.elinks
    result = write_image(Path(args.out), network.weights, elinks, args.command_line,
                         device_address=args.device_address, burst=args.burst, force=args.force)
    print(f"wrote {network.design.image_bytes}-byte weight image, {len(result.writes)} I2C writes "
          f"({program_cycles(result.writes)} SCL cycles) and the register map to {args.out}", file=sys.stderr)
    return 0


def cmd_hls(args: argparse.Namespace) -> int:
    check_out(Path(args.out), HLS_KIND, force=args.force, inputs=[Path(args.source)])
    t0 = time.perf_counter()
    network = load_network(Path(args.source), args.ii)
    generate_hls(Path(args.out), network.weights, args.command_line, force=args.force)
    print(f"wrote HLS project ({network.design.summary()}) to {args.out} in "
          f"{time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    check_out(Path(args.out), GENERATE_KIND, force=args.force, inputs=[Path(args.source)])
    network = load_network(Path(args.source), args.ii)
    options = GenerateOptions(dot=args.dot, tmr=args.tmr, hls=not args.no_hls, synth=args.synth)
    generate_ip(Path(args.out), network, options, args.command_line, force=args.force)
    return 0


def cmd_tmr(args: argparse.Namespace) -> int:
    harden_files([Path(s) for s in args.sources], Path(args.output), args.command_line, args.policy,
                 args.full_scheme, args.top)
    return 0


def cmd_seu_rate(args: argparse.Namespace) -> int:
    env = Environment(cross_section_cm2=args.cross_section, flux_cm2_s=args.flux, chips=args.chips,
                      clock_mhz=args.clock_mhz, set_cross_section_cm2=args.set_cross_section,
                      latch_window_ps=args.latch_window_ps)
    seu_rate_command(Path(args.source), args.out, env, args.command_line)
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    inputs = [Path(args.source)] if Path(args.source).exists() else []
    check_out(Path(args.out), SYNTH_KIND, force=args.force, inputs=inputs)
    library = read_library(args.liberty) if args.liberty else None
    measure = activity_for(args.source, args.activity, args.activity_modules) if library is not None else None
    synth_command(args.source, args.ii, Path(args.out), args.command_line, args.flow, not args.no_depth,
                  force=args.force, dots=list(dict.fromkeys(args.dot)), library=library, tmr=args.tmr,
                  measure=measure)
    return 0


def cmd_gatesim(args: argparse.Namespace) -> int:
    cluster = load_cluster(Path(args.cluster)) if args.cluster else None  # a bad file fails before any build
    path = gatesim_command(Path(args.synth), Path(args.out), args.command_line,
                           Path(args.weights) if args.weights else None, args.modules, force=args.force,
                           faults=args.faults, power=args.power, builds=tuple(args.builds or ()),
                           shards=args.shards, cluster=cluster, clean_modules=args.clean_modules)
    print(f"[gatesim] report -> {path}", file=sys.stderr)
    return 0


def cmd_csim(args: argparse.Namespace) -> int:
    vectors = None
    if args.per_region is not None:
        design, _ = load_project(Path(args.project))
        vectors = standard_vectors(design, args.per_region, args.seed)
    result = run_csim(Path(args.project), vectors)
    for note in result.first_mismatches:
        print(f"[csim] mismatch: {note}", file=sys.stderr)
    print(f"[csim] {result.modules} modules, {result.mismatches} mismatches "
          f"(compile {result.compile_seconds:.1f}s, run {result.run_seconds:.2f}s)", file=sys.stderr)
    return 0 if result.mismatches == 0 else 1


def cmd_data(args: argparse.Namespace) -> int:
    region = resolve_region(args.region or DEFAULT_REGION)
    check_file_output(Path(args.out), "module data", is_module_file,
                      inputs=_region_inputs(args.region, region))
    modules = region_modules(region, args.seed, args.modules)
    modules.save(Path(args.out))
    print(f"wrote {len(modules)} modules of region {region.name} to {args.out}", file=sys.stderr)
    return 0


def cmd_regions(args: argparse.Namespace) -> int:
    for name in preset_names():
        region = preset(name)
        mark = " (default)" if name == DEFAULT_REGION else ""
        print(f"{name:14s} {region.elinks} e-links  {region.description}{mark}")
    return 0


def cmd_region_diff(args: argparse.Namespace) -> int:
    image = load_image(Path(args.image))
    comparison = compare(read_dump(Path(args.dump)), image)
    print(f"{args.dump} against the image in {image.source} ({image.design.summary()})")
    print(comparison.report())
    return 0 if comparison.ok else 1


def cmd_region_retrain(args: argparse.Namespace) -> int:
    overrides = {"seed": args.seed, "epochs": args.epochs, "modules": args.modules, "loss": args.loss,
                 "eval_modules": args.eval_modules}
    result = retrain(Path(args.ip), args.region or DEFAULT_REGION, Path(args.out), overrides,
                     args.command_line, force=args.force, modules_per_region=args.stream_modules)
    return 0 if result.passed else 1


def cmd_regress(args: argparse.Namespace) -> int:
    options = RegressOptions(jobs=args.jobs, modules=args.modules, fuzz_events=args.fuzz_events)
    return 0 if run_regress(Path(args.ip), Path(args.out), options, args.command_line, args.force) else 1


def cmd_report(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    out = check_out(Path(args.out), REPORT_KIND, force=args.force, inputs=[folder])
    report = build_report(folder, Path(args.synth) if args.synth else None)
    files = render_report(report, args.command_line)
    write_tree(out, files, {"kind": REPORT_KIND, "command": args.command_line, "source": str(folder)},
               force=args.force)
    print(f"[report] {report.title} -> {out / REPORT_HTML} and {out / REPORT_MD}", file=sys.stderr)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    result = run_sweep(Path(args.sweep), Path(args.out), args.command_line, force=args.force)
    failed = [r for r in result.results if r["status"] != "passed"]
    for r in failed:
        print(f"[sweep] {r['task']} ({r['region']}) {r['status']}: {r['result']}; log {r['log']}",
              file=sys.stderr)
    print(f"[sweep] {len(result.results) - len(failed)} of {len(result.results)} tasks passed; summary "
          f"{Path(args.out) / 'summary.md'}", file=sys.stderr)
    return 0 if result.passed else 1


#: the handler of every subcommand the parser names
HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train, "flow": cmd_flow, "describe": cmd_describe, "image": cmd_image, "hls": cmd_hls,
    "generate": cmd_generate, "tmr": cmd_tmr, "seu-rate": cmd_seu_rate, "synth": cmd_synth,
    "gatesim": cmd_gatesim, "csim": cmd_csim, "data": cmd_data, "regions": cmd_regions,
    "region-diff": cmd_region_diff, "region-retrain": cmd_region_retrain, "regress": cmd_regress,
    "report": cmd_report, "sweep": cmd_sweep}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["asicgen", *argv])
    install_interrupt_handler()
    try:
        return HANDLERS[args.handler](args)
    except USER_ERRORS as exc:
        print(f"asicgen: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("asicgen: interrupted; nothing was left half-written (each output is either as it was "
              "before or complete)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
