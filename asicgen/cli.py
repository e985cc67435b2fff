"""The `asicgen` command line."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from asicgen import __version__
from asicgen.core.atomic import install_interrupt_handler, write_text
from asicgen.core.design import SUPPORTED_II, Design
from asicgen.core.i2c import DEFAULT_DEVICE_ADDRESS
from asicgen.core.image import load_image, program_cycles, write_image
from asicgen.core.naming import CLOCK_MHZ, TMR_POLICY_FILE
from asicgen.core.outputs import (
    FLOW_KIND,
    GENERATE_KIND,
    HLS_KIND,
    IMAGE_KIND,
    REGRESS_KIND,
    REPORT_KIND,
    SYNTH_KIND,
    TRAIN_KIND,
    check_file_output,
    check_folder_output,
    read_manifest,
    staged_folder,
    write_manifest,
)
from asicgen.core.raw import ConfigError
from asicgen.core.render import Stamp, is_generated, write_tree
from asicgen.core.weights import WeightSet
from asicgen.csim import CsimError, load_project, run_csim
from asicgen.dot_tree import DEFAULT_DOT_STRUCTURE, DOT_STRUCTURES, SYNTH_DOT_STRUCTURE
from asicgen.dump import compare, read_dump
from asicgen.gate import GateSimError, gatesim_command
from asicgen.harden import generate_hardened_top
from asicgen.hls import generate_hls
from asicgen.liberty import NAMED_LIBRARIES, LibertyError, read_library
from asicgen.region import retrain
from asicgen.report import REPORT_HTML, REPORT_MD, build_report, render_report
from asicgen.rtl import generate_rtl
from asicgen.sources import load_network
from asicgen.sweep import run_sweep
from asicgen.synth import MeasureActivity, SynthError, synth_command, synthesise_rtl, write_report
from tmr.flow import REPORT_FORMAT, check_survival, harden_sources, write_hardened
from tmr.policy import Policy
from tmr.rate import (
    DEFAULT_CROSS_SECTION_CM2,
    DEFAULT_FLUX_CM2_S,
    DEFAULT_LATCH_WINDOW_PS,
    DEFAULT_SET_CROSS_SECTION_CM2,
    FIGURES_FORMAT,
    Environment,
    figures,
    figures_markdown,
    figures_raw,
    load_inventory,
    stamped_markdown,
    summary_line,
)
from tmr.transform import TmrError
from tmr.yosys import YosysError
from training.data import MAX_SEED, DataError, is_module_file, region_modules
from training.regions import DEFAULT_REGION, ELINK_CHOICES, preset, preset_names, resolve_region
from verif import regress_suite
from verif.activity import Activity, measure_activity
from verif.runner import SimulationError
from verif.vectors import standard_vectors

# --- argparse types: every numeric option is checked while parsing, before any work starts

#: 7-bit I2C addresses the I2C specification (UM10204) reserves, and what for
_I2C_RESERVED = ((0x00, 0x07, "general call, START byte, CBUS, other bus formats, Hs-mode controller codes"),
                 (0x78, 0x7F, "10-bit addressing and device ID"))
_I2C_USABLE = f"0x{_I2C_RESERVED[0][1] + 1:02X}..0x{_I2C_RESERVED[1][0] - 1:02X}"
#: modules of region data streamed to measure switching activity, and their seed
ACTIVITY_MODULES, ACTIVITY_SEED = 2000, 11
_II_HELP = f"initiation interval ({', '.join(map(str, SUPPORTED_II))})"


def _integer(text: str, base: int = 10) -> int:
    try:
        return int(text, base)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _at_least(lo: int, what: str) -> Callable[[str], int]:
    """An integer >= lo."""
    def parse(text: str) -> int:
        value = _integer(text)
        if value < lo:
            raise argparse.ArgumentTypeError(f"{what} must be at least {lo}, got {value}")
        return value
    return parse


def _positive(what: str) -> Callable[[str], float]:
    """A positive, finite number (1e-14, 2e7, 40)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"{what} must be a positive finite number, got {text}")
        return value
    return parse


def _seed(text: str) -> int:

    value = _integer(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"the random seed must be 0..{MAX_SEED}, got {value}")
    return value


def _one_of(choices: tuple[int, ...], what: str) -> Callable[[str], int]:
    """An integer from `choices` (argparse's own `choices` would list them without saying why)."""
    def parse(text: str) -> int:
        value = _integer(text)
        if value not in choices:
            raise argparse.ArgumentTypeError(f"{what} {value} is not supported "
                                             f"(choose one of {', '.join(map(str, choices))})")
        return value
    return parse


def _ii(text: str) -> int:

    return _one_of(SUPPORTED_II, "initiation interval")(text)


def _elinks(text: str) -> int:

    return _one_of(ELINK_CHOICES, "e-link mode")(text)


def _i2c_address(text: str) -> int:
    """A 7-bit I2C target address (hex, decimal, octal or binary) outside the reserved ranges."""
    value = _integer(text, 0)
    if not 0 <= value <= 0x7F:
        raise argparse.ArgumentTypeError(f"{text} is not a 7-bit I2C address (0x00..0x7F); "
                                         f"usable addresses are {_I2C_USABLE}")
    for lo, hi, purpose in _I2C_RESERVED:
        if lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"0x{value:02X} is reserved by the I2C specification (0x{lo:02X}..0x{hi:02X}: {purpose}); "
                f"usable addresses are {_I2C_USABLE}")
    return value


def _add_train_arguments(p: argparse.ArgumentParser, arch: bool = True) -> None:
    p.add_argument("--region", default=None,
                   help="region preset name or a .toml/.json region file "
                        "(default: the default region)")
    if arch:
        p.add_argument("--arch", choices=("default", "8x8"), default=None,
                       help="encoder architecture (default: 4x4x3, 2288 weights)")
    p.add_argument("--seed", type=_seed, default=None, help="random seed (data, split, training)")
    p.add_argument("--epochs", type=_at_least(1, "the number of epochs"), default=None,
                   help="maximum epochs (early stopping)")
    p.add_argument("--modules", type=_at_least(1, "the number of modules"), default=None,
                   help="number of modules to use")
    p.add_argument("--loss", choices=("telescope", "mse"), default=None)
    p.add_argument("--eval-modules", type=_at_least(1, "the number of modules scored with EMD"),
                   default=None, help="validation modules scored with EMD")


def _job(args: argparse.Namespace):
    # training.train imports TensorFlow (seconds): only the commands that train pay for it
    from training.train import load_job, with_overrides

    job = load_job(args.region or DEFAULT_REGION, args.arch)
    return with_overrides(job, seed=args.seed, epochs=args.epochs, modules=args.modules,
                          loss=args.loss, eval_modules=args.eval_modules)


def cmd_train(args: argparse.Namespace) -> int:
    # before anything imports TensorFlow: a path asicgen may not write fails at once
    check_folder_output(Path(args.out), TRAIN_KIND, force=args.force)
    from training.train import train_region  # TensorFlow: after the cheap checks

    job = _job(args)
    inputs = _region_inputs(args.region, job.region)
    check_folder_output(Path(args.out), TRAIN_KIND, force=args.force, inputs=inputs)
    train_region(job, Path(args.out), force=args.force)
    return 0


def _region_inputs(region_arg: str | None, region) -> list[Path]:
    """The files a region reads: the region file (not a preset name) and its data files."""
    region_file = [Path(region_arg)] if region_arg and Path(region_arg).suffix else []
    return [*region_file, *region.data_files]


def cmd_flow(args: argparse.Namespace) -> int:
    """The whole flow: train -> weight image -> HLS + C simulation -> RTL -> TMR -> upset rates ->
    RTL simulation."""
    from asicgen.flow import run_flow  # imports TensorFlow (training)

    out = Path(args.out)
    check_folder_output(out, FLOW_KIND, force=args.force)
    job = _job(args)
    check_folder_output(out, FLOW_KIND, force=args.force, inputs=_region_inputs(args.region, job.region))
    return 0 if run_flow(job, out, _command, force=args.force) else 1


def _command(sub: str, source: Path, out: Path) -> str:
    return f"asicgen {sub} {source} --out {out}"


def _report_csim(result) -> None:
    for note in result.first_mismatches:
        print(f"[csim] mismatch: {note}", file=sys.stderr)
    print(f"[csim] {result.modules} modules, {result.mismatches} mismatches "
          f"(compile {result.compile_seconds:.1f}s, run {result.run_seconds:.2f}s)", file=sys.stderr)


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

    check_folder_output(Path(args.out), IMAGE_KIND, force=args.force, inputs=[Path(args.source)])
    network = load_network(Path(args.source))
    elinks = args.elinks if args.elinks is not None else network.elinks
    result = write_image(Path(args.out), network.weights, elinks, args.command_line,
                         device_address=args.device_address, burst=args.burst, force=args.force)
    print(f"wrote {network.design.image_bytes}-byte weight image, {len(result.writes)} I2C writes "
          f"({program_cycles(result.writes)} SCL cycles) and the register map to {args.out}", file=sys.stderr)
    return 0


def cmd_hls(args: argparse.Namespace) -> int:


    check_folder_output(Path(args.out), HLS_KIND, force=args.force, inputs=[Path(args.source)])
    t0 = time.perf_counter()
    network = load_network(Path(args.source), args.ii)
    generate_hls(Path(args.out), network.weights, args.command_line, force=args.force)
    print(f"wrote HLS project ({network.design.summary()}) to {args.out} in "
          f"{time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """Trained network -> RTL, HLS project and weight image, with one manifest naming them all.

    The output folder is built whole beside its target and swapped in at the end, so a
    folder never mixes parts of two runs (e.g. an old hls/ beside a new rtl/)."""


    out = check_folder_output(Path(args.out), GENERATE_KIND, force=args.force, inputs=[Path(args.source)])
    t0 = time.perf_counter()
    network = load_network(Path(args.source), args.ii)
    design = network.design
    with staged_folder(out, GENERATE_KIND, force=args.force) as stage:
        parts = {"rtl": stage / "rtl", "image": stage / "image"}
        generate_rtl(parts["rtl"], design, args.command_line, args.dot)
        print(f"[generate] RTL of {design.summary()} -> {args.out}/rtl", file=sys.stderr)
        write_image(parts["image"], network.weights, network.elinks, args.command_line)
        print(f"[generate] weight image and register map -> {args.out}/image", file=sys.stderr)
        if args.tmr:

            parts["rtl_tmr"] = stage / "rtl_tmr"
            print("[generate] TMR: hardening ae_top with yosys (about a minute for the default "
                  "architecture)", file=sys.stderr)
            hardened = generate_hardened_top(parts["rtl"], parts["rtl_tmr"], design, args.command_line)
            r = hardened.report
            print(f"[generate] TMR: {len(r.triplicated)} registers triplicated, flip-flop bits "
                  f"{r.bits_before} -> {r.bits_after}; {hardened.proof.line()} -> {args.out}/rtl_tmr",
                  file=sys.stderr)
        if not args.no_hls:
            parts["hls"] = stage / "hls"
            generate_hls(parts["hls"], network.weights, args.command_line)
            print(f"[generate] HLS project -> {args.out}/hls", file=sys.stderr)
        files = {name: sorted(json.loads((path / "manifest.json").read_text())["files"])
                 for name, path in parts.items()}
        if args.synth:

            synth_command(str(parts["rtl"]), [design.ii], stage / "synth", args.command_line)
            if args.tmr:
                _synth_hardened(parts["rtl_tmr"], stage / "synth_tmr", design, r, args.command_line)
        write_manifest(stage, GENERATE_KIND, {
            "command": args.command_line, "source": str(network.source), "region": network.region,
            "elinks": network.elinks, "design": design.to_raw(), "design_sha256": design.digest(),
            "weights_sha256": network.weights.digest(), "ii": design.ii, "latency": design.latency,
            "parts": {name: {"directory": name, "files": listing} for name, listing in files.items()}})
    print(f"[generate] done in {time.perf_counter() - t0:.1f}s; manifest {Path(args.out) / 'manifest.json'}",
          file=sys.stderr)
    return 0


def _synth_hardened(rtl_tmr: Path, out: Path, design, report, command: str) -> None:
    """Synthesise the hardened ae_top and check that every replica survived."""

    result = synthesise_rtl(rtl_tmr, out / "yosys")
    line = check_survival(result.flops, report)
    write_report(out, design, [result], command, build="TMR-hardened", notes=[line])
    print(f"[generate] hardened ae_top synthesised: {line} -> {out / 'synth.md'}", file=sys.stderr)


def _tmr_policy(path: str | None, sources: list[Path]):
    """The policy file given, else the one beside the first source (generated RTL has its own),
    else the default: every register triplicated, the flags on a new error port."""

    beside = sources[0].parent / TMR_POLICY_FILE
    chosen = Path(path) if path else beside if beside.is_file() else None
    if chosen is None:
        default = Policy.from_raw({}, "default policy")
        # worded without "error": on a failure, the error line stays the only one saying it
        print(f"policy: the default (every register triplicated, voters' flags on a new output port "
              f"{default.error_port})", file=sys.stderr)
        return default
    print(f"policy: {chosen}", file=sys.stderr)
    return Policy.load(chosen)


def cmd_tmr(args: argparse.Namespace) -> int:
    """Triplicate the registers of synthesisable Verilog/SystemVerilog."""


    sources = [Path(s) for s in args.sources]
    for source in sources:
        if not source.is_file():
            raise ConfigError(f"{source}: no such file")
    out = check_file_output(Path(args.output), "hardened Verilog", is_generated, inputs=sources, option="-o")
    check_file_output(out.with_suffix(".tmr.md"), "TMR report", _is_tmr_report, inputs=sources, option="-o")
    check_file_output(out.with_suffix(".tmr.json"), "TMR report", _is_tmr_report_json, inputs=sources,
                      option="-o")
    t0 = time.perf_counter()
    policy = _tmr_policy(args.policy, sources)
    if args.full_scheme:
        policy = policy.with_full_scheme(args.full_scheme)
    print(f"hardening {', '.join(map(str, sources))} with yosys...", file=sys.stderr)
    hardened = harden_sources(sources, policy, args.top)
    digest = hashlib.sha256(b"".join(s.read_bytes() for s in sources)).hexdigest()
    stamp = Stamp(f"TMR of {hardened.top} from {', '.join(map(str, sources))}", digest, args.command_line)
    write_hardened(hardened, out, stamp.header(out.name))
    r = hardened.report
    print(f"hardened {hardened.top}: {len(r.triplicated)} registers ({r.protected_bits} bits) triplicated, "
          f"{r.voters} voters, flip-flop bits {r.bits_before} -> {r.bits_after}; {hardened.proof.line()}; in "
          f"{time.perf_counter() - t0:.1f}s; wrote {args.output}, {out.with_suffix('.tmr.md').name} and "
          f"{out.with_suffix('.tmr.json').name}",
          file=sys.stderr)
    return 0


def _is_tmr_report(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(64).startswith(b"# TMR report:")


def _is_tmr_report_json(path: Path) -> bool:

    return _json_format(path) == REPORT_FORMAT


def _json_format(path: Path) -> object:
    """The `format` field of a JSON file asicgen wrote, or None."""

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data.get("format") if isinstance(data, dict) else None


#: where `asicgen seu-rate` looks for the TMR report in a folder: rtl_tmr itself, or the
#: output of `asicgen generate --tmr` / `asicgen flow` holding it
_TMR_REPORTS = ("tmr_report.json", "rtl_tmr/tmr_report.json")


def _tmr_report_file(source: Path) -> Path:
    if source.is_file():
        return source
    if not source.is_dir():
        raise ConfigError(f"{source}: no such folder or file")
    for name in _TMR_REPORTS:
        if (source / name).is_file():
            return source / name
    raise ConfigError(f"{source} holds no tmr_report.json: write one with `asicgen generate SOURCE --out OUT "
                      "--tmr` (OUT/rtl_tmr/tmr_report.json), or `asicgen tmr IN.v -o OUT.v` (OUT.tmr.json)")


def _is_seu_rate_output(path: Path) -> bool:

    return _json_format(path) == FIGURES_FORMAT if path.suffix == ".json" else is_generated(path)


def cmd_seu_rate(args: argparse.Namespace) -> int:
    """Expected upsets per hour, plain and hardened, and the uncorrectable rate, per error class."""

    report = _tmr_report_file(Path(args.source))
    out = _seu_rate_output(args.out, report)
    env = Environment(cross_section_cm2=args.cross_section, flux_cm2_s=args.flux, chips=args.chips,
                      clock_mhz=args.clock_mhz, set_cross_section_cm2=args.set_cross_section,
                      latch_window_ps=args.latch_window_ps)
    fig = figures(load_inventory(report), env)
    text = _seu_rate_text(fig, report, args.command_line, out)
    if out is None:
        print(text, end="")
    else:

        write_text(out, text)
    print(f"{fig.design}: {summary_line(fig)}" + (f"; wrote {args.out}" if out else ""), file=sys.stderr)
    return 0


def _seu_rate_output(path: str | None, report: Path) -> Path | None:
    """The checked --out file (.md or .json), or None for stdout."""
    if path is None:
        return None
    if Path(path).suffix not in (".md", ".json"):
        raise ConfigError(f"--out {path}: give a .md or .json file name")
    return check_file_output(Path(path), "rate report", _is_seu_rate_output, inputs=[report])


def _seu_rate_text(fig, report: Path, command: str, out: Path | None) -> str:
    """The figures as JSON for a .json output, else Markdown (stamped when written to a file)."""


    if out is None:
        return figures_markdown(fig)
    if out.suffix == ".json":
        return json.dumps(figures_raw(fig, {"source": str(report), "command": command}), indent=1) + "\n"
    return stamped_markdown(fig, report, command, out.name)


def cmd_synth(args: argparse.Namespace) -> int:

    inputs = [Path(args.source)] if Path(args.source).exists() else []
    check_folder_output(Path(args.out), SYNTH_KIND, force=args.force, inputs=inputs)
    library = read_library(args.liberty) if args.liberty else None
    measure = None
    if library is not None:
        activity_run = args.activity or (args.source if _is_trained_network(args.source) else None)
        if activity_run is None:
            print("[synth] no power figure: give --activity RUN (a trained network of this architecture) "
                  "to measure switching activity in simulation", file=sys.stderr)
        else:
            measure = _activity_measure(Path(activity_run), args.activity_modules)
    synth_command(args.source, args.ii, Path(args.out), args.command_line, args.flow, not args.no_depth,
                  force=args.force, dots=list(dict.fromkeys(args.dot)), library=library, tmr=args.tmr,
                  measure=measure)
    return 0


def cmd_gatesim(args: argparse.Namespace) -> int:
    """Gate-level simulation of the netlists of a synth folder."""
    path = gatesim_command(Path(args.synth), Path(args.out), args.command_line,
                           Path(args.weights) if args.weights else None, args.modules, force=args.force,
                           faults=args.faults, power=args.power, builds=tuple(args.builds or ()))
    print(f"[gatesim] report -> {path}", file=sys.stderr)
    return 0


def _is_trained_network(source: str) -> bool:
    path = Path(source)
    return (path / "weights.json").is_file() or path.suffix in (".h5", ".json")


def _activity_measure(run: Path, modules: int) -> MeasureActivity:
    """Switching activity from a bulk simulation of `run`'s trained weights on its region's data."""
    network = load_network(run)
    region = resolve_region(network.region or DEFAULT_REGION)
    charges = region_modules(region, ACTIVITY_SEED, modules).calq
    elinks = network.elinks or network.design.default_elinks

    measured: dict[str, Activity] = {}

    def measure(design: Design, rtl_dir: Path, work: Path) -> Activity:
        if design.arch != network.design.arch:
            raise ConfigError(f"--activity {run}: its architecture ({network.design.summary()}) is not the "
                              f"one synthesised ({design.summary()})")
        if design.digest() not in measured:
            weights = WeightSet.from_arrays(design, network.weights.tensors, str(run))
            print(f"[synth] II={design.ii}: measuring switching activity ({len(charges):,} modules of region "
                  f"{region.name}, weights of {run})", file=sys.stderr)
            # the registers the activity is read from are the same, bit for bit, whatever the
            # dot-product structure: simulate the chain, which Verilator builds fastest
            chain = work / "rtl_chain"
            generate_rtl(chain, design, "activity run", "chain")
            measured[design.digest()] = measure_activity(weights, charges, elinks, chain, work,
                                                         f"region {region.name}")
        return measured[design.digest()]

    return measure


def cmd_csim(args: argparse.Namespace) -> int:

    vectors = None
    if args.per_region is not None:
        design, _ = load_project(Path(args.project))
        vectors = standard_vectors(design, args.per_region, args.seed)
    result = run_csim(Path(args.project), vectors)
    _report_csim(result)
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


def cmd_regress(args: argparse.Namespace) -> int:
    ip = Path(args.ip)
    manifest = read_manifest(ip)
    if manifest is None or manifest.get("kind") != GENERATE_KIND:
        raise ConfigError(f"{ip}: not an IP written by `asicgen generate` (no generate manifest.json)")
    image = load_image(ip / "image")
    out = Path(args.out)
    print(f"[regress] {image.design.summary()} in {ip}: file hashes, streaming (plain"
          f"{' and hardened' if (ip / 'rtl_tmr').is_dir() else ''}), I2C directed and fuzz tests -> {out}",
          file=sys.stderr)
    with staged_folder(out, REGRESS_KIND, force=args.force) as stage:
        junit = stage / "junit.xml"
        suite = Path(regress_suite.__file__)
        command = [sys.executable, "-m", "pytest", str(suite), "-p", "no:cacheprovider", "-o", "addopts=",
                   "--rootdir", str(suite.parent), "-n", args.jobs, f"--junitxml={junit}", "-rA"]
        env = {**os.environ, regress_suite.IP_ENV: str(ip.resolve()),
               regress_suite.BUILD_ENV: str(stage / "build"), regress_suite.MODULES_ENV: str(args.modules),
               regress_suite.FUZZ_ENV: str(args.fuzz_events)}
        code = subprocess.run(command, env=env, check=False).returncode
        write_manifest(stage, REGRESS_KIND, {"ip": str(ip), "design": image.design.to_raw(),
                                             "pytest_exit": code, "command": args.command_line})
    verdict = "passed" if code == 0 else f"FAILED (pytest exit {code})"
    print(f"[regress] {verdict}; JUnit XML: {out / 'junit.xml'}", file=sys.stderr)
    return 0 if code == 0 else 1


def cmd_report(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    out = check_folder_output(Path(args.out), REPORT_KIND, force=args.force, inputs=[folder])
    report = build_report(folder, Path(args.synth) if args.synth else None)
    files = render_report(report, args.command_line)
    write_tree(out, files, {"kind": REPORT_KIND, "command": args.command_line, "source": str(folder)},
               force=args.force)
    print(f"[report] {report.title} -> {out / REPORT_HTML} and {out / REPORT_MD}", file=sys.stderr)
    return 0


def _add_report_parser(sub) -> None:
    p = sub.add_parser("report", help="one page (HTML and Markdown) on a region's compression and its IP")
    p.add_argument("folder", help="a training run (`asicgen train --out`) or a flow folder (`asicgen flow`)")
    p.add_argument("--out", required=True, help="output folder: report.html, report.md and the plots")
    p.add_argument("--synth", default=None, metavar="DIR",
                   help="also the figures of an `asicgen synth` output folder (a flow folder's synth/ is "
                        "taken when present)")
    p.set_defaults(func=cmd_report)


def _add_regress_parser(sub) -> None:
    p = sub.add_parser("regress", help="the cocotb regressions of a generated IP, as it is (pytest-xdist, "
                                       "JUnit XML); exit 1 on any failure")
    p.add_argument("ip", help="the output folder of `asicgen generate` (with --tmr, the hardened build too)")
    p.add_argument("--out", default="regress",
                   help="results folder: junit.xml, the simulator builds and logs (default: ./regress)")
    p.add_argument("-n", "--jobs", default="auto", help="pytest-xdist workers (default auto: one per core)")
    p.add_argument("--modules", type=_at_least(1, "the modules per region"), default=150,
                   help="modules streamed per region preset (default 150)")
    p.add_argument("--fuzz-events", type=_at_least(0, "the fuzz events"), default=1500,
                   help="random I2C bus events of the fuzz test (default 1500)")
    p.set_defaults(func=cmd_regress)


def cmd_region_retrain(args: argparse.Namespace) -> int:
    overrides = {"seed": args.seed, "epochs": args.epochs, "modules": args.modules, "loss": args.loss,
                 "eval_modules": args.eval_modules}
    result = retrain(Path(args.ip), args.region or DEFAULT_REGION, Path(args.out), overrides,
                     args.command_line, force=args.force, modules_per_region=args.stream_modules)
    return 0 if result.passed else 1


def cmd_sweep(args: argparse.Namespace) -> int:
    result = run_sweep(Path(args.sweep), Path(args.out), args.command_line, force=args.force)
    failed = [r for r in result.results if r["status"] != "passed"]
    for r in failed:
        print(f"[sweep] {r['task']} ({r['region']}) {r['status']}: {r['result']}; log {r['log']}",
              file=sys.stderr)
    print(f"[sweep] {len(result.results) - len(failed)} of {len(result.results)} tasks passed; summary "
          f"{Path(args.out) / 'summary.md'}", file=sys.stderr)
    return 0 if result.passed else 1


def _add_sweep_parser(sub) -> None:
    p = sub.add_parser("sweep", help="retrain and verify many regions (IPs, losses) as tasks on Dask "
                                     "distributed; one summary")
    p.add_argument("sweep", help="the sweep file (TOML; format: docs/sweep.md)")
    p.add_argument("--out", required=True, help="output folder: one folder and one log per task, summary.md")
    p.set_defaults(func=cmd_sweep)


def _add_region_parser(sub) -> None:
    region = sub.add_parser("region", help="detector-region jobs on a fixed chip").add_subparsers(
        dest="region_command", required=True)
    p = region.add_parser("retrain", help="retrain a region's weights for an existing IP (its architecture), "
                                          "write the image and prove over I2C that the IP's untouched RTL "
                                          "runs them bit-exact")
    p.add_argument("--ip", required=True, help="the output folder of `asicgen generate` (the chip's IP)")
    _add_train_arguments(p, arch=False)
    p.add_argument("--stream-modules", type=_at_least(1, "the modules streamed"), default=300,
                   help="modules streamed after programming (default 300)")
    p.add_argument("--out", required=True, help="output folder: train/, image/, sim/")
    p.add_argument("--force", action="store_true",
                   help="also replace an earlier asicgen output of another kind at --out")
    p.set_defaults(func=cmd_region_retrain)
    p = region.add_parser("diff", help="compare a register dump read back from a chip with the weight image "
                                       "it should hold; names every differing weight (exit 1 if any)")
    p.add_argument("dump", help="text file, one '<address> <byte>' pair in hex per line (format: "
                                "docs/regions.md)")
    p.add_argument("image", help="the image folder of `asicgen image`/`generate` (or its weights.bin, or the "
                                 "`generate` output folder)")
    p.set_defaults(func=cmd_region_diff)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asicgen", description=__doc__)
    parser.add_argument("--version", action="version", version=f"asicgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train the encoder for a detector region")
    _add_train_arguments(p)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("flow", help="run the whole flow on the default region")
    _add_train_arguments(p)
    p.add_argument("--out", default="build/flow", help="output directory")
    p.set_defaults(func=cmd_flow)

    p = sub.add_parser("data", help="write a region's modules (.csv or .npz): from its data files if it "
                                    "names any, else synthetic")
    p.add_argument("--region", default=None)
    p.add_argument("--seed", type=_seed, default=1, help="random seed of the generator (default 1)")
    p.add_argument("--modules", type=_at_least(1, "the number of modules"), default=None,
                   help="number of modules (default: the region's own count)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("regions", help="list the region presets")
    p.set_defaults(func=cmd_regions)

    source_help = "training output directory, QKeras .h5 encoder, or weights .json"
    p = sub.add_parser("describe", help="print the architecture description of a trained network")
    p.add_argument("source", help=source_help)
    p.add_argument("--ii", type=_ii, default=1, help=_II_HELP)
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("image", help="weight image (bin, hex), I2C transactions and register map")
    p.add_argument("source", help=source_help)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--elinks", type=_elinks, default=None,
                   help="e-link mode written after the weights (default: the training region's)")
    p.add_argument("--device-address", type=_i2c_address, default=DEFAULT_DEVICE_ADDRESS,
                   help=f"7-bit I2C device address for the transaction list, {_I2C_USABLE} "
                        f"(default 0x{DEFAULT_DEVICE_ADDRESS:02X})")
    p.add_argument("--burst", type=_at_least(1, "the burst length in bytes"), default=14,
                   help="data bytes per I2C write (default 14)")
    p.set_defaults(func=cmd_image)

    p = sub.add_parser("hls", help="Catapult-style HLS C++ project")
    p.add_argument("source", help=source_help)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--ii", type=_ii, default=1, help=_II_HELP)
    p.set_defaults(func=cmd_hls)

    p = sub.add_parser("generate", help="RTL, HLS project and weight image of a trained network")
    p.add_argument("source", help=source_help)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--ii", type=_ii, default=1, help=_II_HELP)
    p.add_argument("--dot", choices=DOT_STRUCTURES, default=DEFAULT_DOT_STRUCTURE,
                   help="dot-product structure of the RTL (default: chain; csa: carry-save trees, smaller "
                        "after synthesis, slower to build in Verilator)")
    p.add_argument("--no-hls", action="store_true", help="skip the HLS project")
    p.add_argument("--tmr", action="store_true", help="also write the TMR-hardened ae_top (rtl_tmr/)")
    p.add_argument("--synth", action="store_true",
                   help="also synthesise ae_top with yosys: OUT/synth/synth.md and synth.json; with "
                        "--tmr also the hardened one (OUT/synth_tmr/), checking that every replica survives")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("synth", help="yosys synthesis of ae_top per II: cells, flip-flops, gate "
                                     "equivalents, logic depth (OUT/synth.md and synth.json)")
    p.add_argument("source", help="RTL directory written by asicgen, an architecture preset (default, 8x8), "
                                  "or a " + source_help)
    p.add_argument("--ii", type=_ii, nargs="+", default=list(SUPPORTED_II),
                   help="initiation intervals (default: 1 2 4 8; an RTL directory has its own)")
    p.add_argument("--out", required=True, help="report directory")
    p.add_argument("--flow", choices=("abc", "noabc"), default="abc",
                   help="abc: light ABC mapping (default); noabc: yosys' generic gates, faster")
    p.add_argument("--no-depth", action="store_true", help="skip the logic-depth pass (flatten + ltp)")
    p.add_argument("--liberty", metavar="NAME|PATH", default=None,
                   help=f"map onto a cell library ({', '.join(NAMED_LIBRARIES)}: Debian's qflow-tech "
                        "packages, "
                        "or a .lib file): area in um2 and NAND2 equivalents, critical path with OpenSTA")
    p.add_argument("--activity", metavar="RUN", default=None,
                   help="with --liberty: a trained network of this architecture whose weights stream its "
                        "region's data in a Verilator run to measure switching activity for the power "
                        "figure (default: SOURCE when it is a trained network)")
    p.add_argument("--activity-modules", type=_at_least(1, "modules"), default=ACTIVITY_MODULES,
                   help=f"modules streamed for the activity (default {ACTIVITY_MODULES})")
    p.add_argument("--tmr", action="store_true",
                   help="also harden each build (TMR) and synthesise it, checking every replica survives")
    p.add_argument("--dot", nargs="+", choices=DOT_STRUCTURES, default=[SYNTH_DOT_STRUCTURE],
                   help="dot-product structure(s) of the RTL, each measured (default: csa, one carry-save "
                        "tree of full adders per dot product, the structure to build silicon from; chain: "
                        "one product after another, the default of `generate`, whose Verilator model builds "
                        "faster)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("tmr", help="triplicate the registers of Verilog/SystemVerilog RTL")
    p.add_argument("sources", nargs="+", help="RTL files (read by yosys)")
    p.add_argument("-o", "--output", required=True, help="hardened Verilog file (a report is written beside)")
    p.add_argument("--full-scheme", choices=("full", "full-shared"), default=None,
                   help="harden every register the policy protects as full (or full-shared) with this "
                        "scheme: full = full module triplication (three domains, a voter each), full-shared "
                        "= one voter read by shared next-state logic (docs/tmr.md)")
    p.add_argument("--policy", default=None,
                   help="policy file (.toml/.json); default: tmr_policy.toml beside the first source "
                        "(asicgen generate writes one beside the RTL) if there is one, else triplicate every "
                        "register and add an error port")
    p.add_argument("--top", default=None, help="top module (default: found by yosys)")
    p.set_defaults(func=cmd_tmr)

    p = sub.add_parser("gatesim", help="simulate the mapped netlists of `asicgen synth --liberty` at gate "
                                       "level: program over I2C, read back, stream bit-exact")
    p.add_argument("synth", help="folder written by `asicgen synth ... --liberty LIB` (its work/ netlists)")
    p.add_argument("--out", required=True, help="output folder (the proof of the cells written in place, "
                                                "one build per netlist, gatesim.md)")
    p.add_argument("--weights", default=None,
                   help="trained network to program (training folder or weights.json; default: random "
                        "weights)")
    p.add_argument("--modules", type=_at_least(1, "modules"), default=200,
                   help="region modules streamed per netlist (default 200)")
    p.add_argument("--faults", type=_at_least(0, "faults"), default=0,
                   help="then this many upsets and transients on each netlist, one at a time while modules "
                        "stream (hardened must survive, plain must not; docs/gate.md); default 0: none")
    p.add_argument("--builds", nargs="+", choices=("plain", "hardened"), default=None,
                   help="only the netlists of these builds (default: every netlist of the folder)")
    p.add_argument("--power", action="store_true",
                   help="then the power of each netlist with the activity of every net measured while the "
                        "modules stream (a build with toggle counts; docs/gate.md)")
    p.set_defaults(func=cmd_gatesim)

    _add_seu_rate_parser(sub)
    _add_region_parser(sub)
    _add_regress_parser(sub)
    _add_report_parser(sub)
    _add_sweep_parser(sub)

    p = sub.add_parser("csim", help="C-simulate an HLS project against the bit-exact Python model")
    p.add_argument("project", help="directory written by `asicgen hls`")
    p.add_argument("--per-region", type=_at_least(1, "the number of modules per region"), default=None,
                   help="fresh vectors: this many modules per region preset plus corner cases "
                        "(default: the project's own stimulus)")
    p.add_argument("--seed", type=_seed, default=11, help="random seed of fresh vectors (default 11)")
    p.set_defaults(func=cmd_csim)
    _add_output_options(sub.choices)
    return parser


def _add_seu_rate_parser(sub) -> None:

    p = sub.add_parser("seu-rate", help="expected upsets per hour of the plain and the TMR-hardened build, "
                                        "and the rate of uncorrectable errors, per error class")
    p.add_argument("source", help="rtl_tmr folder (its tmr_report.json), a folder holding rtl_tmr/, or a "
                                  "*.tmr.json from `asicgen tmr`")
    p.add_argument("--cross-section", type=_positive("the cross-section (cm2 per bit)"),
                   default=DEFAULT_CROSS_SECTION_CM2, metavar="CM2",
                   help=f"SEU cross-section per flip-flop bit, cm2 (default {DEFAULT_CROSS_SECTION_CM2:g}: "
                        "an assumption, see docs/tmr.md; give your cell library's measured value)")
    p.add_argument("--flux", type=_positive("the flux (cm-2 s-1)"), default=DEFAULT_FLUX_CM2_S,
                   metavar="CM2S", help=f"hadron flux (E >= 20 MeV), cm-2 s-1 (default "
                                        f"{DEFAULT_FLUX_CM2_S:g}: HGCAL concentrator ASICs, upper end)")
    p.add_argument("--clock-mhz", type=_positive("the clock frequency (MHz)"), default=float(CLOCK_MHZ),
                   metavar="MHZ", help=f"clock; one period is the refresh interval of a voted bit "
                                       f"(default {CLOCK_MHZ})")
    p.add_argument("--set-cross-section", type=_positive("the transient cross-section (cm2 per net)"),
                   default=DEFAULT_SET_CROSS_SECTION_CM2, metavar="CM2",
                   help=f"single-event-transient cross-section per net, cm2 (default "
                        f"{DEFAULT_SET_CROSS_SECTION_CM2:g}: an assumption, see docs/tmr.md)")
    p.add_argument("--latch-window-ps", type=_positive("the latching window (ps)"),
                   default=DEFAULT_LATCH_WINDOW_PS, metavar="PS",
                   help=f"how long before an edge a transient is latched: its width plus setup and hold, ps "
                        f"(default {DEFAULT_LATCH_WINDOW_PS:g}: an assumption, see docs/tmr.md)")
    p.add_argument("--chips", type=_at_least(1, "the number of chips"), default=1, metavar="N",
                   help="chips in the system, for the MTBF of all of them (default 1)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write the figures to FILE.md (Markdown) or FILE.json (default: Markdown on stdout)")
    p.set_defaults(func=cmd_seu_rate)


#: commands that replace an output folder whole, and accept --force
FORCE_COMMANDS = ("train", "flow", "image", "hls", "generate", "synth", "gatesim", "regress", "report",
                  "sweep")


def _add_output_options(commands: dict[str, argparse.ArgumentParser]) -> None:
    for name in FORCE_COMMANDS:
        commands[name].add_argument(
            "--force", action="store_true",
            help="also replace an earlier asicgen output of another kind at --out (never files "
                 "asicgen did not write)")


def main(argv: Sequence[str] | None = None) -> int:


    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["asicgen", *argv])
    install_interrupt_handler()
    try:
        return args.func(args)
    except (ConfigError, DataError, CsimError, YosysError, SynthError, TmrError, SimulationError,
            LibertyError, GateSimError) as exc:
        print(f"asicgen: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("asicgen: interrupted; nothing was left half-written (each output is either as it was "
              "before or complete)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
