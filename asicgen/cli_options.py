"""The options of the `asicgen` command line: every subcommand, its arguments and their
checks. Every numeric option is checked while parsing, before any work starts; each
subcommand names its handler (`asicgen.cli.HANDLERS`)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from asicgen import __version__
from asicgen.core.design import SUPPORTED_II
from asicgen.core.i2c import DEFAULT_DEVICE_ADDRESS
from asicgen.core.naming import CLOCK_MHZ
from asicgen.dot_tree import DEFAULT_DOT_STRUCTURE, DOT_STRUCTURES, SYNTH_DOT_STRUCTURE
from asicgen.liberty import NAMED_LIBRARIES
from asicgen.synth_activity import ACTIVITY_MODULES
from tmr.rate import (
    DEFAULT_CROSS_SECTION_CM2,
    DEFAULT_FLUX_CM2_S,
    DEFAULT_LATCH_WINDOW_PS,
    DEFAULT_SET_CROSS_SECTION_CM2,
)
from training.data import MAX_SEED
from training.regions import ELINK_CHOICES

#: 7-bit I2C addresses the I2C specification (UM10204) reserves, and what for
_I2C_RESERVED = ((0x00, 0x07, "general call, START byte, CBUS, other bus formats, Hs-mode controller codes"),
                 (0x78, 0x7F, "10-bit addressing and device ID"))
_I2C_USABLE = f"0x{_I2C_RESERVED[0][1] + 1:02X}..0x{_I2C_RESERVED[1][0] - 1:02X}"
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


def add_train_arguments(p: argparse.ArgumentParser, arch: bool = True) -> None:
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


def _add_report_parser(sub) -> None:
    p = sub.add_parser("report", help="one page (HTML and Markdown) on a region's compression and its IP")
    p.add_argument("folder", help="a training run (`asicgen train --out`) or a flow folder (`asicgen flow`)")
    p.add_argument("--out", required=True, help="output folder: report.html, report.md and the plots")
    p.add_argument("--synth", default=None, metavar="DIR",
                   help="also the figures of an `asicgen synth` output folder (a flow folder's synth/ is "
                        "taken when present)")
    p.set_defaults(handler="report")


def _add_regress_parser(sub) -> None:
    p = sub.add_parser("regress", help="the cocotb regressions of a generated IP, as it is (pytest-xdist, "
                                       "JUnit XML); exit 1 on any failure")
    p.add_argument("ip", help="the IP: the output folder of `asicgen generate` or `asicgen flow` (with its "
                                "hardened build, that too)")
    p.add_argument("--out", default="regress",
                   help="results folder: junit.xml, the simulator builds and logs (default: ./regress)")
    p.add_argument("-n", "--jobs", default="auto", help="pytest-xdist workers (default auto: one per core)")
    p.add_argument("--modules", type=_at_least(1, "the modules per region"), default=150,
                   help="modules streamed per region preset (default 150)")
    p.add_argument("--fuzz-events", type=_at_least(0, "the fuzz events"), default=1500,
                   help="random I2C bus events of the fuzz test (default 1500)")
    p.set_defaults(handler="regress")


def _add_sweep_parser(sub) -> None:
    p = sub.add_parser("sweep", help="retrain and verify many regions (IPs, losses) as tasks on Dask "
                                     "distributed; one summary")
    p.add_argument("sweep", help="the sweep file (TOML; format: docs/sweep.md)")
    p.add_argument("--out", required=True, help="output folder: one folder and one log per task, summary.md")
    p.set_defaults(handler="sweep")


def _add_region_parser(sub) -> None:
    region = sub.add_parser("region", help="detector-region jobs on a fixed chip").add_subparsers(
        dest="region_command", required=True)
    p = region.add_parser("retrain", help="retrain a region's weights for an existing IP (its architecture), "
                                          "write the image and prove over I2C that the IP's untouched RTL "
                                          "runs them bit-exact")
    p.add_argument("--ip", required=True, help="the chip's IP: the output folder of `asicgen generate` or "
                                              "`asicgen flow`")
    add_train_arguments(p, arch=False)
    p.add_argument("--stream-modules", type=_at_least(1, "the modules streamed"), default=300,
                   help="modules streamed after programming (default 300)")
    p.add_argument("--out", required=True, help="output folder: train/, image/, sim/")
    p.add_argument("--force", action="store_true",
                   help="also replace an earlier asicgen output of another kind at --out")
    p.set_defaults(handler="region-retrain")
    p = region.add_parser("diff", help="compare a register dump read back from a chip with the weight image "
                                       "it should hold; names every differing weight (exit 1 if any)")
    p.add_argument("dump", help="text file, one '<address> <byte>' pair in hex per line (format: "
                                "docs/regions.md)")
    p.add_argument("image", help="the image folder of `asicgen image`/`generate` (or its weights.bin, or the "
                                 "`generate` output folder)")
    p.set_defaults(handler="region-diff")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asicgen", description="The asicgen command line.")
    parser.add_argument("--version", action="version", version=f"asicgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train the encoder for a detector region")
    add_train_arguments(p)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(handler="train")

    p = sub.add_parser("flow", help="run the whole flow on the default region")
    add_train_arguments(p)
    p.add_argument("--out", default="build/flow", help="output directory")
    p.set_defaults(handler="flow")

    p = sub.add_parser("data", help="write a region's modules (.csv or .npz): from its data files if it "
                                    "names any, else synthetic")
    p.add_argument("--region", default=None)
    p.add_argument("--seed", type=_seed, default=1, help="random seed of the generator (default 1)")
    p.add_argument("--modules", type=_at_least(1, "the number of modules"), default=None,
                   help="number of modules (default: the region's own count)")
    p.add_argument("--out", required=True)
    p.set_defaults(handler="data")

    p = sub.add_parser("regions", help="list the region presets")
    p.set_defaults(handler="regions")

    source_help = "training output directory, QKeras .h5 encoder, or weights .json"
    p = sub.add_parser("describe", help="print the architecture description of a trained network")
    p.add_argument("source", help=source_help)
    p.add_argument("--ii", type=_ii, default=1, help=_II_HELP)
    p.set_defaults(handler="describe")

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
    p.set_defaults(handler="image")

    p = sub.add_parser("hls", help="Catapult-style HLS C++ project")
    p.add_argument("source", help=source_help)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--ii", type=_ii, default=1, help=_II_HELP)
    p.set_defaults(handler="hls")

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
    p.set_defaults(handler="generate")

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
    p.set_defaults(handler="synth")

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
    p.set_defaults(handler="tmr")

    p = sub.add_parser("gatesim", help="simulate the mapped netlists of `asicgen synth --liberty` at gate "
                                       "level: program over I2C, read back, stream bit-exact")
    p.add_argument("synth", help="folder written by `asicgen synth ... --liberty LIB` (its work/ netlists)")
    p.add_argument("--out", required=True, help="output folder (the proof of the cells written in place, "
                                                "one build per netlist, gatesim.md)")
    p.add_argument("--weights", default=None,
                   help="trained network to program (training folder or weights.json; default: random "
                        "weights)")
    p.add_argument("--modules", type=_at_least(0, "modules"), default=200,
                   help="region modules streamed per netlist (default 200; 0: no streaming run, with "
                        "--faults only)")
    p.add_argument("--faults", type=_at_least(0, "faults"), default=0,
                   help="then this many upsets and as many transients on each netlist, one at a time "
                        "while modules stream (hardened must survive, plain must not; docs/gate.md); "
                        "default 0: none")
    p.add_argument("--shards", type=_at_least(1, "shards"), default=1,
                   help="split each fault campaign over this many simulations of one build, side by side "
                        "(one per core; default 1)")
    p.add_argument("--clean-modules", type=_at_least(1, "clean modules"), default=40,
                   help="modules each campaign shard streams after its faults and its read-back, all "
                        "bit-exact for a hardened netlist (default 40)")
    p.add_argument("--cluster", default=None, metavar="TOML",
                   help="run the shards on this Dask cluster instead (a file with a [cluster] table as "
                        "in a sweep file: local, scheduler, slurm or htcondor; the workers must see this "
                        "folder at the same path)")
    p.add_argument("--builds", nargs="+", choices=("plain", "hardened"), default=None,
                   help="only the netlists of these builds (default: every netlist of the folder)")
    p.add_argument("--power", action="store_true",
                   help="then the power of each netlist with the activity of every net measured while the "
                        "modules stream (a build with toggle counts; docs/gate.md)")
    p.set_defaults(handler="gatesim")

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
    p.set_defaults(handler="csim")
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
    p.set_defaults(handler="seu-rate")


#: commands that replace an output folder whole, and accept --force
FORCE_COMMANDS = ("train", "flow", "image", "hls", "generate", "synth", "gatesim", "regress", "report",
                  "sweep")


def _add_output_options(commands: dict[str, argparse.ArgumentParser]) -> None:
    for name in FORCE_COMMANDS:
        commands[name].add_argument(
            "--force", action="store_true",
            help="also replace an earlier asicgen output of another kind at --out (never files "
                 "asicgen did not write)")
