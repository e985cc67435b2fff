"""Read RTL with yosys, triplicate, write Verilog back, and report."""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace as _replace
from pathlib import Path

from asicgen.core.atomic import write_text
from tmr.commonmode import CommonMode
from tmr.equiv import netlist_equivalence
from tmr.netlist import Module
from tmr.policy import Policy
from tmr.proof import Proof, prove
from tmr.transform import Report, TmrError, cell_kind, harden, replica_base
from tmr.yosys import run_yosys, stage_sources


@dataclass(frozen=True)
class Hardened:
    top: str
    verilog: str
    report: Report
    proof: Proof


#: longest line of the hardened Verilog. yosys writes a wide concatenation on one line (412k
#: characters for a weight voter of the default ae_top) and Verilator refuses lines of more
#: than 40,000 preprocessor tokens; other tools and editors have limits of their own.
VERILOG_LINE_WIDTH = 120

# what decides where a line may break: string literals, escaped identifiers (from `\` to the
# next whitespace, commas included), comments, and the spaces and commas between them
_LEXEME = re.compile(r'"(?:[^"\\]|\\.)*"?|\\\S*|//|/\*|[ ,]')


@dataclass(frozen=True)
class _Cut:
    end: int  # the piece before the break ends here (exclusive)
    resume: int  # the next piece starts here
    preferred: bool  # after a comma: the break falls between list items


def _cuts(line: str, in_comment: bool) -> tuple[list[_Cut], bool]:
    """Where `line` may break without changing its meaning, and whether a block comment is
    still open at its end. A break replaces a space or follows a comma outside literals,
    escaped identifiers and comments."""
    cuts: list[_Cut] = []
    pos = 0
    while True:
        if in_comment:
            end = line.find("*/", pos)
            if end < 0:
                return cuts, True
            pos, in_comment = end + 2, False
        match = _LEXEME.search(line, pos)
        if match is None:
            return cuts, False
        token, at = match.group(), match.start()
        if token == "//":
            return cuts, False
        if token == "/*":
            in_comment = True
        elif token == " ":
            cuts.append(_Cut(at, at + 1, at > 0 and line[at - 1] == ","))
        elif token == "," and not line.startswith(" ", at + 1):  # ", " breaks at its space
            cuts.append(_Cut(at + 1, at + 1, True))
        pos = match.end()


def _choose(cuts: list[_Cut], ends: list[int], start: int, limit: int) -> _Cut | None:
    """The break that makes the piece from `start` longest within `limit` characters, a break
    after a comma first; the earliest break when none fits (the piece then stays too long).
    `ends`: the cuts' end positions, ascending."""
    first = bisect.bisect_right(ends, start)
    last = bisect.bisect_right(ends, start + limit)
    fitting = cuts[first:last]
    if not fitting:
        return cuts[first] if first < len(cuts) else None
    return next((c for c in reversed(fitting) if c.preferred), fitting[-1])


def _wrap_line(line: str, cuts: list[_Cut], width: int) -> list[str]:
    """`line` in pieces of at most `width` characters where the cuts allow; the pieces after
    the first are indented one step deeper than the line."""
    lead = len(line) - len(line.lstrip(" "))
    indent = " " * (lead + 4)
    ends = [c.end for c in cuts]
    pieces: list[str] = []
    begin, start, limit = 0, lead, width - lead  # a break inside the indentation gains nothing
    while len(line) - start > limit:
        cut = _choose(cuts, ends, start, limit)
        if cut is None:
            break
        pieces.append(line[begin:cut.end].rstrip(" "))
        begin = start = cut.resume
        limit = width - len(indent)
    pieces.append(line[begin:])
    return [pieces[0], *(indent + p.lstrip(" ") for p in pieces[1:])]


def wrap_verilog(text: str, width: int = VERILOG_LINE_WIDTH) -> str:
    """`text` with every line longer than `width` broken where whitespace is allowed: at a
    space or after a comma, never inside a string, an escaped identifier or a comment, nor in
    a compiler directive (a `` `define `` ends at the line end). Continuation lines are
    indented one step deeper. A line with no such place stays as it is."""
    lines = text.split("\n")
    out: list[str] = []
    in_comment = False
    for line in lines:
        if not in_comment and len(line) <= width and "/*" not in line:
            out.append(line)
            continue
        cuts, still_open = _cuts(line, in_comment)
        directive = not in_comment and line.lstrip().startswith("`")
        wrap = len(line) > width and not directive
        out.extend(_wrap_line(line, cuts, width) if wrap else [line])
        in_comment = still_open
    return "\n".join(out)


def read_script(sources: Sequence[str], top: str | None, policy: Policy, out_json: str) -> str:
    """Elaborate the RTL (hierarchy kept) and write it as yosys JSON."""
    files = " ".join(f'"{s}"' for s in sources)
    lines = [f"read_verilog -sv {files}",
             f"hierarchy -check -top {top}" if top else "hierarchy -check -auto-top"]
    if policy.hook:
        lines.append(f"blackbox {policy.hook.cell_type}")
    lines += ["proc", f"write_json {out_json}"]
    return "\n".join(lines) + "\n"


def flatten_script(in_json: str, kept: Sequence[str], out_json: str) -> str:
    """Flatten everything but the stateless submodules, which stay instances."""
    lines = [f'read_json "{in_json}"']
    if kept:
        lines.append(f"setattr -mod -set keep_hierarchy 1 {' '.join(kept)}")
    lines += ["flatten", "memory -nomap", "memory_map", "opt_clean", f"write_json {out_json}"]
    return "\n".join(lines) + "\n"


def _top_name(design: dict, top: str | None) -> str:
    if not design["modules"]:
        raise TmrError("the sources define no module (yosys found nothing to harden)")
    tops = [name for name, m in design["modules"].items() if m.get("attributes", {}).get("top")]
    return top or (tops[0] if tops else next(iter(design["modules"])))


def stateless_modules(design: dict, top: str) -> list[str]:
    """Modules below `top` holding no state at any depth: only combinational cells and
    instances of other such modules (no flip-flop, latch, memory, tri-state or black box).

    They carry nothing to triplicate, so they stay instances in the hardened netlist:
    synthesis then builds each variant once, and the equivalence proof treats them as
    the same uninterpreted function on both sides."""
    modules = design["modules"]
    known: dict[str, bool] = {}

    def stateless(name: str) -> bool:
        if name not in known:
            known[name] = False  # a recursive instantiation is not stateless
            module = modules.get(name)
            known[name] = bool(module) and not module.get("attributes", {}).get("blackbox") and all(
                cell_kind(c["type"]) == "comb" or (c["type"] in modules and stateless(c["type"]))
                for c in module["cells"].values())
        return known[name]

    return sorted(n for n in modules if n != top and stateless(n))


def readable_module_name(name: str) -> str:
    """A plain identifier for a parameterised module (`$paramod$<sha1>\\ae_dot` becomes
    `ae_dot__<8 hex digits>`); the digits come from the name, so they are stable."""
    if not name.startswith("$paramod"):
        return name
    base = re.sub(r"[^A-Za-z0-9_]", "_", name.split("\\")[1])
    return f"{base}__{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def rename_modules(design: dict, names: dict[str, str]) -> None:
    design["modules"] = {names.get(n, n): m for n, m in design["modules"].items()}
    for module in design["modules"].values():
        for cell in module["cells"].values():
            cell["type"] = names.get(cell["type"], cell["type"])


def flat_netlist(sources: Sequence[Path], top: str | None, policy: Policy, workdir: Path,
                 inline: frozenset[str] = frozenset()) -> tuple[dict, Module, list[str]]:
    """The design flattened except for its stateless submodules (yosys JSON), its top
    module, and the names of the submodules it still instantiates. `inline`: modules to
    flatten even when stateless."""
    staged = stage_sources(sources, workdir)
    run_yosys(read_script(staged, top, policy, "elaborated.json"), workdir, "read.log")
    design = json.loads((workdir / "elaborated.json").read_text())
    name = _top_name(design, top)
    kept = [n for n in stateless_modules(design, name) if n not in inline]
    names = {n: readable_module_name(n) for n in kept}
    rename_modules(design, names)
    (workdir / "renamed.json").write_text(json.dumps(design))
    kept = sorted(names.values())
    run_yosys(flatten_script("renamed.json", kept, "plain.json"), workdir, "flatten.log")
    design = json.loads((workdir / "plain.json").read_text())
    used = _instantiated(design, name)
    design["modules"] = {n: m for n, m in design["modules"].items() if n == name or n in used}
    for kept_name in used:  # it only steered `flatten`; written out, it would steer the user's flow
        design["modules"][kept_name].get("attributes", {}).pop("keep_hierarchy", None)
    (workdir / "plain.json").write_text(json.dumps(design))
    return design, Module(name, design["modules"][name]), sorted(used & set(kept))


def _instantiated(design: dict, top: str) -> set[str]:
    """Every module instantiated below `top`, at any depth."""
    modules = design["modules"]
    found: set[str] = set()
    pending = [top]
    while pending:
        for cell in modules[pending.pop()]["cells"].values():
            if cell["type"] in modules and cell["type"] not in found:
                found.add(cell["type"])
                pending.append(cell["type"])
    return found


def name_vectors(module: Module) -> list[str]:
    """Name every multi-bit cell output that no net names yet (`<cell>__<port>`); returns the
    new names. The TMR pass creates its voters' vectors unnamed, and yosys writes an unnamed bit
    as a one-bit wire of its own: a 13,728-bit voter then comes out as concatenations of 13,728
    wires, which Verilator compiles into one C++ expression per reduction, with a term per bit
    (11 MB functions that g++ took minutes and 6.5 GB for). Named, each is one vector operation."""
    named = {bit for net in module.netnames.values() for bit in net["bits"]}
    added = []
    for cell_name, cell in module.cells.items():
        for port, direction in cell.get("port_directions", {}).items():
            bits = cell["connections"][port]
            if direction != "output" or len(bits) < 2 or named.intersection(bits):
                continue
            name = f"{cell_name}__{port.lower()}"
            if name in module.netnames:
                raise TmrError(f"cannot name the output {port} of cell {cell_name}: {name} exists")
            module.add_net(name, bits)
            module.netnames[name]["hide_name"] = int(name.startswith("$"))
            named.update(bits)
            added.append(name)
    return added


def write_script(in_json: str, out_verilog: str) -> str:
    """Write the hardened netlist as Verilog. The domain voters and the domains' buffers of
    shared inputs (cells marked `submod` by the pass) become modules of their own, marked
    `keep_hierarchy`: synthesis, which would merge the three voters of a register (identical
    functions of the same copies) and the copies of logic reading only shared inputs, sees
    each as a separate instance. A synthesis tool of the user's must keep them too
    (`dont_touch` on the `*_vote_d*_m` and `tmr_fanout_d*_m` instances)."""
    return "\n".join([f'read_json "{in_json}"', "submod", "setattr -mod -set keep_hierarchy 1 *_vote_d*_m "
                       "tmr_fanout_d*_m", f"write_verilog {out_verilog}"]) + "\n"


def harden_sources(sources: Sequence[Path], policy: Policy, top: str | None = None,
                   workdir: Path | None = None) -> Hardened:
    with tempfile.TemporaryDirectory(prefix="asicgen-tmr-") as tmp:
        work = Path(workdir or tmp)
        design, module, submodules = flat_netlist(sources, top, policy, work)
        report = harden(module, policy, frozenset(submodules))
        name_vectors(module)
        if policy.hook:
            design["modules"].pop(policy.hook.cell_type, None)
        (work / "hardened.json").write_text(json.dumps(design))
        proof = prove(work / "plain.json", work / "hardened.json", policy, module.name, work / "proof")
        if not proof.proven:
            raise TmrError(f"the hardened netlist of {module.name} failed its proof (a fault of the TMR "
                           f"pass; nothing was written): {proof.summary()}")
        run_yosys(write_script("hardened.json", "hardened.v"), work, "write.log")
        return Hardened(module.name, wrap_verilog((work / "hardened.v").read_text()), report, proof)


def report_markdown(hardened: Hardened) -> str:
    r = hardened.report
    lines = [f"# TMR report: {hardened.top}", "",
             f"* registers triplicated: {len(r.triplicated)} ({r.protected_bits} bits), voters inserted: "
             f"{r.voters}",
             f"* registers left single: {len(r.single)} ({r.single_bits} bits)",
             f"* registers copied once per domain, not voted: {len(r.per_domain)} ({r.per_domain_bits} bits)",
             f"* full module triplication: {r.domain_logic_cells:,} cells of next-state logic copied into "
             "domains 1 and 2; every domain reads the pads " + (", ".join(f"`{p}`" for p in r.shared_inputs)
                                                               or "(none)") + " through a buffer of its own",
             f"* flip-flop bits: {r.bits_before} -> {r.bits_after} "
             f"(x{r.bits_after / max(r.bits_before, 1):.2f})",
             "* error classes (voters per class): "
             + ", ".join(f"{cls} {n}" for cls, n in r.error_classes.items()), "",
             "| register | bits | policy | class | replicas | source |", "|---|---|---|---|---|---|"]
    for reg in r.triplicated:
        base = replica_base(reg.name)
        lines.append(f"| `{reg.name}` | {reg.width} | {reg.policy} | {reg.error_class} | "
                     f"`{base}__tmr0..2` | {reg.source} |")
    for reg in r.single:
        lines.append(f"| `{reg.name}` | {reg.width} | none | - | - | {reg.source} |")
    for reg in r.per_domain:
        lines.append(f"| `{reg.name}` | {reg.width} | none (one per domain) | - | `<cell>__d1`, `__d2` | "
                     f"{reg.source} |")
    return "\n".join(lines) + "\n\n" + hardened.proof.markdown()


#: the `format` of the machine-readable TMR report (tmr_report.json, *.tmr.json)
REPORT_FORMAT = "asicgen-tmr-report/1"


def report_raw(report: Report, top: str, common: CommonMode | None = None) -> dict:
    """The report as plain data (JSON): every register with its width, policy and error
    class, the registers left single, and totals per class. `asicgen seu-rate` reads it."""
    per_class = {cls: {"registers": 0, "bits": 0, "voters": voters}
                 for cls, voters in report.error_classes.items()}
    for reg in report.triplicated:
        entry = per_class.setdefault(reg.error_class, {"registers": 0, "bits": 0, "voters": 0})
        entry["registers"] += 1
        entry["bits"] += reg.width
    return {
        "format": REPORT_FORMAT, "top": top, "classes": list(per_class),
        "registers": [{"name": r.name, "width": r.width, "policy": r.policy, "class": r.error_class,
                       "source": r.source} for r in report.triplicated],
        "single": [{"name": r.name, "width": r.width, "source": r.source} for r in report.single],
        "per_domain": [{"name": r.name, "width": r.width, "source": r.source} for r in report.per_domain],
        "totals": {"per_class": per_class, "voters": report.voters, "protected_bits": report.protected_bits,
                   "single_bits": report.single_bits, "per_domain_bits": report.per_domain_bits,
                   "bits_before": report.bits_before, "bits_after": report.bits_after},
        "nets": nets_raw(common),
    }


def nets_raw(found: CommonMode | None) -> dict:
    """The net inventory the transient rates need (`tmr.commonmode`): internal net bits in the
    next-state logic of one copy only of the state registers (per copy), in that of two or more
    (common-mode), in any (state), the pads every copy reads, and all net bits of the module."""
    if found is None:
        return {"common_mode": 0, "per_copy": [0, 0, 0], "state": 0, "pads": [], "total": 0}
    return {"common_mode": found.nets, "per_copy": list(found.copy_nets), "state": found.state_nets,
            "pads": list(found.pads), "total": found.total_nets}


def report_json(hardened: Hardened) -> str:
    return json.dumps(report_raw(hardened.report, hardened.top, hardened.proof.validation.common_mode),
                      indent=1) + "\n"


def write_hardened(hardened: Hardened, out: Path, header: str = "") -> None:
    write_text(out, header + hardened.verilog)
    write_text(out.with_suffix(".tmr.md"), report_markdown(hardened))
    write_text(out.with_suffix(".tmr.json"), report_json(hardened))


def check_survival(flops_after_synthesis: int, report: Report) -> str:
    """Every replica must survive logic synthesis: a synthesised hardened netlist holds
    exactly 3 x (protected + per domain) + single flip-flop bits. Returns the line for the
    report."""
    expected = report.bits_after
    split = (f"3 x ({report.protected_bits:,} protected + {report.per_domain_bits:,} per domain) + "
             f"{report.single_bits:,} single")
    line = f"flip-flops after synthesis: {flops_after_synthesis:,} = {split}"
    if flops_after_synthesis != expected:
        raise TmrError(f"synthesis kept {flops_after_synthesis:,} flip-flops, the hardened netlist has "
                       f"{expected:,} ({split}): replicas or domain copies were merged or removed")
    return line


def prove_hardening(sources: Sequence[Path], policy: Policy, top: str, workdir: Path):
    """Harden, then prove the hardened netlist equivalent to the plain one with no upsets.

    The plain side keeps the hook module's own logic (no errors reported); the hardened
    side has the voters' flags in its place."""


    workdir = Path(workdir)
    hardened = harden_sources(sources, policy, top, workdir / "harden")
    plain_policy = _replace(policy, hook=None)
    hook = frozenset({policy.hook.cell_type}) if policy.hook else frozenset()
    flat_netlist(sources, top, plain_policy, workdir / "plain", inline=hook)
    gate = workdir / "harden" / "hardened.json"
    added = None if policy.hook else policy.error_port
    result = netlist_equivalence(workdir / "plain" / "plain.json", gate, top, workdir / "equiv", added)
    return hardened, result
