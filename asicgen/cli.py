"""The `asicgen` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from asicgen import __version__
from asicgen.raw import ConfigError


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", default=None,
                   help="region preset name or a .toml/.json region file "
                        "(default: the default region)")
    p.add_argument("--arch", choices=("default", "8x8"), default=None,
                   help="encoder architecture (default: 4x4x3, 2288 weights)")
    p.add_argument("--seed", type=int, default=None, help="random seed (data, split, training)")
    p.add_argument("--epochs", type=int, default=None, help="maximum epochs (early stopping)")
    p.add_argument("--modules", type=int, default=None, help="number of modules to use")
    p.add_argument("--loss", choices=("telescope", "mse"), default=None)
    p.add_argument("--eval-modules", type=int, default=None,
                   help="validation modules scored with EMD")


def _job(args: argparse.Namespace):
    from training.regions import DEFAULT_REGION
    from training.train import load_job, with_overrides

    job = load_job(args.region or DEFAULT_REGION, args.arch)
    return with_overrides(job, seed=args.seed, epochs=args.epochs, modules=args.modules,
                          loss=args.loss, eval_modules=args.eval_modules)


def cmd_train(args: argparse.Namespace) -> int:
    from training.train import train_region

    train_region(_job(args), Path(args.out))
    return 0


def cmd_flow(args: argparse.Namespace) -> int:
    """The whole flow: train -> weight image -> HLS + C simulation -> RTL -> TMR -> RTL simulation."""
    from asicgen.csim import run_csim
    from asicgen.hls import generate_hls
    from asicgen.image import write_image
    from asicgen.rtl import generate_rtl
    from asicgen.sources import load_network
    from tmr.flow import generate_hardened_top
    from training.train import train_region
    from verif.flow_check import verify_top

    out = Path(args.out)
    stages = 7
    _stage(1, stages, f"train -> {out / 'train'}")
    result = train_region(_job(args), out / "train")
    emd = result.metrics["emd"]
    network = load_network(out / "train", ii=1)
    _stage(2, stages, f"weight image, I2C transactions, register map -> {out / 'image'}")
    write_image(out / "image", network.weights, network.elinks, _command(args, "image", out / "train",
                                                                          out / "image"))
    _stage(3, stages, f"HLS C++ (II=1) -> {out / 'hls'}")
    generate_hls(out / "hls", network.weights, _command(args, "hls", out / "train", out / "hls"))
    _stage(4, stages, "C simulation against the bit-exact model")
    csim = run_csim(out / "hls")
    _report_csim(csim)
    _stage(5, stages, f"RTL (II=1) -> {out / 'rtl'}")
    generate_rtl(out / "rtl", network.design, _command(args, "generate", out / "train", out))
    _stage(6, stages, f"TMR-hardened ae_top -> {out / 'rtl_tmr'}")
    report = generate_hardened_top(out / "rtl", out / "rtl_tmr", network.design,
                                   _command(args, "generate --tmr", out / "train", out)).report
    print(f"[flow] TMR: {len(report.triplicated)} registers triplicated, flip-flop bits "
          f"{report.bits_before} -> {report.bits_after}", file=sys.stderr)
    _stage(7, stages, "RTL simulation (cocotb + Verilator) against the bit-exact model; the first "
                      "build takes a few minutes")
    sim = verify_top(out / "rtl", network.weights, out / "sim")
    print(f"[flow] RTL simulation: {sim.tests - sim.failed} of {sim.tests} cocotb tests passed "
          f"(build {sim.build_seconds:.0f}s, run {sim.run_seconds:.0f}s); results {sim.results_xml}",
          file=sys.stderr)
    ok = csim.mismatches == 0 and sim.failed == 0
    print(f"[flow] {'done' if ok else 'FAILED'}: region {result.metrics['region']}, median EMD autoencoder "
          f"{emd['autoencoder']['all']['median']:.4f}; C simulation {csim.modules} modules, "
          f"{csim.mismatches} mismatches; RTL simulation {sim.failed} failed tests; artefacts in {out}",
          file=sys.stderr)
    return 0 if ok else 1


def _stage(n: int, total: int, text: str) -> None:
    print(f"[flow] stage {n}/{total}: {text}", file=sys.stderr)


def _command(args: argparse.Namespace, sub: str, source: Path, out: Path) -> str:
    return f"asicgen {sub} {source} --out {out}"


def _report_csim(result) -> None:
    for note in result.first_mismatches:
        print(f"[csim] mismatch: {note}", file=sys.stderr)
    print(f"[csim] {result.modules} modules, {result.mismatches} mismatches "
          f"(compile {result.compile_seconds:.1f}s, run {result.run_seconds:.2f}s)", file=sys.stderr)


def cmd_describe(args: argparse.Namespace) -> int:
    import json

    from asicgen.sources import load_network

    network = load_network(Path(args.source), args.ii)
    design = network.design
    print(json.dumps({"summary": design.summary(), "design": design.to_raw(),
                      "design_sha256": design.digest(), "weights_sha256": network.weights.digest(),
                      "region": network.region, "elinks": network.elinks, "latency": design.latency,
                      "ii": design.ii, "weights": design.n_weights, "image_bytes": design.image_bytes},
                     indent=1))
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    from asicgen.image import program_cycles, write_image
    from asicgen.sources import load_network

    network = load_network(Path(args.source))
    elinks = args.elinks if args.elinks is not None else network.elinks
    result = write_image(Path(args.out), network.weights, elinks, args.command_line,
                         device_address=args.device_address, burst=args.burst)
    print(f"wrote {network.design.image_bytes}-byte weight image, {len(result.writes)} I2C writes "
          f"({program_cycles(result.writes)} SCL cycles) and the register map to {args.out}", file=sys.stderr)
    return 0


def cmd_hls(args: argparse.Namespace) -> int:
    import time

    from asicgen.hls import generate_hls
    from asicgen.sources import load_network

    t0 = time.perf_counter()
    network = load_network(Path(args.source), args.ii)
    generate_hls(Path(args.out), network.weights, args.command_line)
    print(f"wrote HLS project ({network.design.summary()}) to {args.out} in "
          f"{time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """Trained network -> RTL, HLS project and weight image, with one manifest naming them all."""
    import json
    import time

    from asicgen import __version__
    from asicgen.atomic import write_text
    from asicgen.hls import generate_hls
    from asicgen.image import write_image
    from asicgen.rtl import generate_rtl
    from asicgen.sources import load_network

    out = Path(args.out)
    t0 = time.perf_counter()
    network = load_network(Path(args.source), args.ii)
    design = network.design
    parts = {"rtl": out / "rtl", "image": out / "image"}
    generate_rtl(parts["rtl"], design, args.command_line)
    print(f"[generate] RTL of {design.summary()} -> {parts['rtl']}", file=sys.stderr)
    write_image(parts["image"], network.weights, network.elinks, args.command_line)
    print(f"[generate] weight image and register map -> {parts['image']}", file=sys.stderr)
    if args.tmr:
        from tmr.flow import generate_hardened_top

        parts["rtl_tmr"] = out / "rtl_tmr"
        r = generate_hardened_top(parts["rtl"], parts["rtl_tmr"], design, args.command_line).report
        print(f"[generate] TMR: {len(r.triplicated)} registers triplicated, flip-flop bits "
              f"{r.bits_before} -> {r.bits_after} -> {parts['rtl_tmr']}", file=sys.stderr)
    if not args.no_hls:
        parts["hls"] = out / "hls"
        generate_hls(parts["hls"], network.weights, args.command_line)
        print(f"[generate] HLS project -> {parts['hls']}", file=sys.stderr)
    files = {name: sorted(json.loads((path / "manifest.json").read_text())["files"])
             for name, path in parts.items()}
    if args.synth:
        from asicgen.synth import synth_command

        synth_command(str(parts["rtl"]), [design.ii], out / "synth", args.command_line)
        if args.tmr:
            _synth_hardened(parts["rtl_tmr"], out / "synth_tmr", design, r, args.command_line)
    manifest = {"tool": f"asicgen {__version__}", "command": args.command_line,
                "source": str(network.source), "region": network.region, "elinks": network.elinks,
                "design": design.to_raw(), "design_sha256": design.digest(),
                "weights_sha256": network.weights.digest(), "ii": design.ii, "latency": design.latency,
                "parts": {name: {"directory": name, "files": listing} for name, listing in files.items()}}
    write_text(out / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"[generate] done in {time.perf_counter() - t0:.1f}s; manifest {out / 'manifest.json'}",
          file=sys.stderr)
    return 0


def _synth_hardened(rtl_tmr: Path, out: Path, design, report, command: str) -> None:
    """Synthesise the hardened ae_top and check that every replica survived."""
    from asicgen.synth import synthesise_rtl, write_report
    from tmr.flow import check_survival

    result = synthesise_rtl(rtl_tmr, out / "yosys")
    line = check_survival(result.flops, report)
    write_report(out, design, [result], command, build="TMR-hardened", notes=[line])
    print(f"[generate] hardened ae_top synthesised: {line} -> {out / 'synth.md'}", file=sys.stderr)


def _tmr_policy(path: str | None, sources: list[Path]):
    from tmr.policy import Policy, ae_top_policy

    if path:
        return Policy.load(Path(path))
    if any("module ae_tmr_hook" in source.read_text(errors="replace") for source in sources):
        return ae_top_policy()
    return Policy.from_raw({}, "default policy")


def cmd_tmr(args: argparse.Namespace) -> int:
    """Triplicate the registers of synthesisable Verilog/SystemVerilog."""
    import time

    from asicgen.render import Stamp
    from tmr.flow import harden_sources, write_hardened

    sources = [Path(s) for s in args.sources]
    for source in sources:
        if not source.is_file():
            raise ConfigError(f"{source}: no such file")
    t0 = time.perf_counter()
    policy = _tmr_policy(args.policy, sources)
    hardened = harden_sources(sources, policy, args.top)
    out = Path(args.output)
    digest = __import__("hashlib").sha256(b"".join(s.read_bytes() for s in sources)).hexdigest()
    stamp = Stamp(f"TMR of {hardened.top} from {', '.join(map(str, sources))}", digest, args.command_line)
    write_hardened(hardened, out, stamp.header(out.name))
    r = hardened.report
    print(f"hardened {hardened.top}: {len(r.triplicated)} registers ({r.protected_bits} bits) triplicated, "
          f"{r.voters} voters, flip-flop bits {r.bits_before} -> {r.bits_after}, in "
          f"{time.perf_counter() - t0:.1f}s; wrote {out} and {out.with_suffix('.tmr.md')}", file=sys.stderr)
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from asicgen.synth import synth_command

    synth_command(args.source, args.ii, Path(args.out), args.command_line, args.flow, not args.no_depth)
    return 0


def cmd_csim(args: argparse.Namespace) -> int:
    from asicgen.csim import load_project, run_csim
    from asicgen.vectors import standard_vectors

    vectors = None
    if args.per_region is not None:
        design, _ = load_project(Path(args.project))
        vectors = standard_vectors(design, args.per_region, args.seed)
    result = run_csim(Path(args.project), vectors)
    _report_csim(result)
    return 0 if result.mismatches == 0 else 1


def cmd_data(args: argparse.Namespace) -> int:
    from training.data import generate
    from training.regions import DEFAULT_REGION, resolve_region

    region = resolve_region(args.region or DEFAULT_REGION)
    modules = generate(region, args.seed, args.modules)
    modules.save(Path(args.out))
    print(f"wrote {len(modules)} modules of region {region.name} to {args.out}", file=sys.stderr)
    return 0


def cmd_regions(args: argparse.Namespace) -> int:
    from training.regions import DEFAULT_REGION, preset, preset_names

    for name in preset_names():
        region = preset(name)
        mark = " (default)" if name == DEFAULT_REGION else ""
        print(f"{name:14s} {region.elinks} e-links  {region.description}{mark}")
    return 0


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

    p = sub.add_parser("data", help="write synthetic modules of a region (.csv or .npz)")
    p.add_argument("--region", default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--modules", type=int, default=None)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("regions", help="list the region presets")
    p.set_defaults(func=cmd_regions)

    source_help = "training output directory, QKeras .h5 encoder, or weights .json"
    p = sub.add_parser("describe", help="print the architecture description of a trained network")
    p.add_argument("source", help=source_help)
    p.add_argument("--ii", type=int, default=1, help="initiation interval (1, 2, 4, 8)")
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("image", help="weight image (bin, hex), I2C transactions and register map")
    p.add_argument("source", help=source_help)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--elinks", type=int, default=None,
                   help="e-link mode written after the weights (default: the training region's)")
    p.add_argument("--device-address", type=lambda v: int(v, 0), default=0x50,
                   help="7-bit I2C device address for the transaction list (default 0x50)")
    p.add_argument("--burst", type=int, default=14, help="data bytes per I2C write (default 14)")
    p.set_defaults(func=cmd_image)

    p = sub.add_parser("hls", help="Catapult-style HLS C++ project")
    p.add_argument("source", help=source_help)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--ii", type=int, default=1, help="initiation interval (1, 2, 4, 8)")
    p.set_defaults(func=cmd_hls)

    p = sub.add_parser("generate", help="RTL, HLS project and weight image of a trained network")
    p.add_argument("source", help=source_help)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--ii", type=int, default=1, help="initiation interval (1, 2, 4, 8)")
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
    p.add_argument("--ii", type=int, nargs="+", default=[1, 2, 4, 8],
                   help="initiation intervals (default: 1 2 4 8; an RTL directory has its own)")
    p.add_argument("--out", required=True, help="report directory")
    p.add_argument("--flow", choices=("abc", "noabc"), default="abc",
                   help="abc: light ABC mapping (default); noabc: yosys' generic gates, faster")
    p.add_argument("--no-depth", action="store_true", help="skip the logic-depth pass (flatten + ltp)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("tmr", help="triplicate the registers of Verilog/SystemVerilog RTL")
    p.add_argument("sources", nargs="+", help="RTL files (read by yosys)")
    p.add_argument("-o", "--output", required=True, help="hardened Verilog file (a report is written beside)")
    p.add_argument("--policy", default=None, help="policy file (.toml/.json); default: the ae_top policy "
                                                  "for generated IP, otherwise triplicate every register")
    p.add_argument("--top", default=None, help="top module (default: found by yosys)")
    p.set_defaults(func=cmd_tmr)

    p = sub.add_parser("csim", help="C-simulate an HLS project against the bit-exact Python model")
    p.add_argument("project", help="directory written by `asicgen hls`")
    p.add_argument("--per-region", type=int, default=None,
                   help="fresh vectors: this many modules per region preset plus corner cases "
                        "(default: the project's own stimulus)")
    p.add_argument("--seed", type=int, default=11)
    p.set_defaults(func=cmd_csim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import shlex

    from asicgen.csim import CsimError
    from asicgen.synth import SynthError
    from tmr.yosys import YosysError
    from training.data import DataError

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["asicgen", *argv])
    try:
        return args.func(args)
    except (ConfigError, DataError, CsimError, YosysError, SynthError) as exc:
        print(f"asicgen: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("asicgen: interrupted; no partial artefact was left behind", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
