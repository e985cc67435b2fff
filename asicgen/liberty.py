"""What synthesis needs to know of a Liberty cell library: cell areas, which cells are
flip-flops, and which cells are the reference NAND2, the full adder and the half adder.

Cells are recognised by the truth tables of their output functions, not by name, so a
library whose cells are named otherwise works too. The reader understands the subset of
Liberty the function strings and the `cell`/`pin`/`area`/`ff` groups use; the timing and
power tables are left to the tools that read the library (yosys, OpenSTA).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

#: named libraries: where Debian's `qflow-tech-*` packages put them
NAMED_LIBRARIES = {
    "osu018": Path("/usr/share/qflow/tech/osu018/osu018_stdcells.lib"),
    "osu035": Path("/usr/share/qflow/tech/osu035/osu035_stdcells.lib"),
    "osu050": Path("/usr/share/qflow/tech/osu050/osu050_stdcells.lib"),
}
#: the Debian package of each named library
PACKAGES = {name: f"qflow-tech-{name}" for name in NAMED_LIBRARIES}


class LibertyError(ValueError):
    """The library is missing or not readable as Liberty."""


@dataclass(frozen=True)
class Pin:
    name: str
    direction: str
    function: str | None
    #: the output is high impedance while this is true (a three-state driver)
    three_state: str | None = None


@dataclass(frozen=True)
class StateGroup:
    """A cell's `ff` or `latch` group: its two state variables (the state and its complement,
    as the output functions name them) and how they change. Functions are over the cell's inputs."""

    kind: str
    state: str
    state_inverted: str
    #: ff: `next_state`, latch: `data_in`
    data: str
    #: ff: `clocked_on` (the edge is its rise), latch: `enable` (transparent while true)
    clock: str
    clear: str | None
    preset: str | None
    #: the state and its complement while clear and preset are both true: L, H, N (unchanged), T, X
    clear_preset_var1: str | None
    clear_preset_var2: str | None


@dataclass(frozen=True)
class Cell:
    name: str
    area: float
    pins: tuple[Pin, ...]
    sequential: bool
    state: StateGroup | None = None

    @property
    def inputs(self) -> list[str]:
        return [p.name for p in self.pins if p.direction == "input"]

    @property
    def outputs(self) -> list[Pin]:
        return [p for p in self.pins if p.direction == "output"]


@dataclass(frozen=True)
class AdderCell:
    """A cell computing a full (three inputs) or half (two inputs) adder."""

    name: str
    inputs: tuple[str, ...]
    carry: str
    sum: str


@dataclass(frozen=True)
class Library:
    name: str
    path: Path
    cells: dict[str, Cell] = field(repr=False)
    nand2: str
    #: the smallest inverter: what ABC takes as the driver of its inputs (flip-flop outputs, ports)
    inverter: str
    full_adder: AdderCell | None
    half_adder: AdderCell | None

    @property
    def nand2_area(self) -> float:
        return self.cells[self.nand2].area

    def area(self, cells_by_type: dict[str, int]) -> float:
        unknown = sorted(c for c in cells_by_type if c not in self.cells)
        if unknown:
            raise LibertyError(f"{self.path}: no cell named {', '.join(unknown)} in the library")
        return sum(self.cells[c].area * n for c, n in cells_by_type.items())

    def flops(self, cells_by_type: dict[str, int]) -> int:
        return sum(n for c, n in cells_by_type.items() if c in self.cells and self.cells[c].sequential)


# -- boolean functions ---------------------------------------------------------------------

_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_\[\]]*|[01]|[!'()^*&+|])")


def truth_table(function: str, inputs: list[str]) -> tuple[int, ...]:
    """The function's value for every assignment of `inputs` (input 0 the most significant)."""
    tokens = _tokens(function)
    rows = []
    for values in itertools.product((0, 1), repeat=len(inputs)):
        env = dict(zip(inputs, values, strict=True))
        value, rest = _or(tokens, env)
        if rest:
            raise LibertyError(f"cannot read function {function!r} (stopped at {''.join(rest)!r})")
        rows.append(value)
    return tuple(rows)


def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if found is None:
            raise LibertyError(f"cannot read function {text!r} at {text[pos:]!r}")
        tokens.append(found.group(1))
        pos = found.end()
    return tokens


def _or(tokens: list[str], env: dict[str, int]) -> tuple[int, list[str]]:
    value, tokens = _and(tokens, env)
    while tokens and tokens[0] in "+|":
        right, tokens = _and(tokens[1:], env)
        value |= right
    return value, tokens


def _and(tokens: list[str], env: dict[str, int]) -> tuple[int, list[str]]:
    value, tokens = _xor(tokens, env)
    # juxtaposition is AND too: "A B"
    while tokens and (tokens[0] in "*&" or tokens[0] == "(" or tokens[0] == "!" or tokens[0][0].isalnum()):
        if tokens[0] in "*&":
            tokens = tokens[1:]
        right, tokens = _xor(tokens, env)
        value &= right
    return value, tokens


def _xor(tokens: list[str], env: dict[str, int]) -> tuple[int, list[str]]:
    value, tokens = _not(tokens, env)
    while tokens and tokens[0] == "^":
        right, tokens = _not(tokens[1:], env)
        value ^= right
    return value, tokens


def _not(tokens: list[str], env: dict[str, int]) -> tuple[int, list[str]]:
    if not tokens:
        raise LibertyError("function ends early")
    if tokens[0] == "!":
        value, tokens = _not(tokens[1:], env)
        return 1 - value, tokens
    if tokens[0] == "(":
        value, tokens = _or(tokens[1:], env)
        if not tokens or tokens[0] != ")":
            raise LibertyError("unbalanced parentheses in a function")
        tokens = tokens[1:]
    elif tokens[0] in ("0", "1"):
        value, tokens = int(tokens[0]), tokens[1:]
    elif tokens[0] in env:
        value, tokens = env[tokens[0]], tokens[1:]
    else:
        raise LibertyError(f"function names {tokens[0]!r}, not an input of the cell")
    while tokens and tokens[0] == "'":
        value, tokens = 1 - value, tokens[1:]
    return value, tokens


# -- reading a library ----------------------------------------------------------------------

_CELL = re.compile(r"^\s*cell\s*\(\s*\"?([A-Za-z0-9_]+)\"?\s*\)\s*\{", re.MULTILINE)
_PIN = re.compile(r"\bpin\s*\(\s*\"?([A-Za-z0-9_]+)\"?\s*\)\s*\{")
_AREA = re.compile(r"^\s*area\s*:\s*([0-9.eE+-]+)\s*;", re.MULTILINE)
_DIRECTION = re.compile(r"\bdirection\s*:\s*\"?(\w+)\"?\s*;")
_FUNCTION = re.compile(r"\bfunction\s*:\s*\"([^\"]*)\"\s*;")
_SEQUENTIAL = re.compile(r"^\s*(ff|latch|ff_bank|latch_bank)\s*\(", re.MULTILINE)
_STATE = re.compile(r"^\s*(ff|latch)\s*\(\s*\"?(\w+)\"?\s*,\s*\"?(\w+)\"?\s*\)\s*\{", re.MULTILINE)
_THREE_STATE = re.compile(r"\bthree_state\s*:\s*\"([^\"]*)\"\s*;")
_ATTRIBUTE = r"\b{}\s*:\s*\"?([^\";]*)\"?\s*;"


def _group_end(text: str, start: int) -> int:
    """Index after the `}` closing the group whose `{` is at or after `start`."""
    depth = 0
    for i in range(text.index("{", start), len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    raise LibertyError("unbalanced braces")


def _read_cell(name: str, body: str) -> Cell:
    area = _AREA.search(body)
    pins = []
    for found in _PIN.finditer(body):
        pin_body = body[found.start():_group_end(body, found.start())]
        direction = _DIRECTION.search(pin_body)
        function = _FUNCTION.search(pin_body)
        three_state = _THREE_STATE.search(pin_body)
        pins.append(Pin(found.group(1), direction.group(1) if direction else "unknown",
                        function.group(1) if function else None,
                        three_state.group(1) if three_state else None))
    return Cell(name, float(area.group(1)) if area else 0.0, tuple(pins), bool(_SEQUENTIAL.search(body)),
                _read_state(name, body))


def _read_state(cell: str, body: str) -> StateGroup | None:
    found = _STATE.search(body)
    if found is None:
        return None
    group = body[found.start():_group_end(body, found.start())]

    def attribute(key: str) -> str | None:
        value = re.search(_ATTRIBUTE.format(key), group)
        return value.group(1).strip() if value else None

    kind = found.group(1)
    data, clock = ("next_state", "clocked_on") if kind == "ff" else ("data_in", "enable")
    if attribute(data) is None or attribute(clock) is None:
        raise LibertyError(f"cell {cell}: its {kind} group has no {data} or no {clock}")
    return StateGroup(kind, found.group(2), found.group(3), attribute(data) or "", attribute(clock) or "",
                      attribute("clear"), attribute("preset"), attribute("clear_preset_var1"),
                      attribute("clear_preset_var2"))


def resolve(name_or_path: str) -> Path:
    """A named library (`NAMED_LIBRARIES`) or a path to a .lib file."""
    if name_or_path in NAMED_LIBRARIES:
        path = NAMED_LIBRARIES[name_or_path]
        if not path.is_file():
            raise LibertyError(f"cell library {name_or_path} is not installed ({path} missing); install "
                               f"the Debian package {PACKAGES[name_or_path]} (apt-get install "
                               f"{PACKAGES[name_or_path]}) or give --liberty PATH to a .lib file")
        return path
    path = Path(name_or_path)
    if not path.is_file():
        raise LibertyError(f"cell library {name_or_path}: no such file (named libraries: "
                           f"{', '.join(NAMED_LIBRARIES)})")
    return path


def read_library(name_or_path: str) -> Library:
    path = resolve(name_or_path)
    text = path.read_text(errors="replace")
    cells: dict[str, Cell] = {}
    for found in _CELL.finditer(text):
        body = text[found.start():_group_end(text, found.start())]
        cells[found.group(1)] = _read_cell(found.group(1), body)
    if not cells:
        raise LibertyError(f"{path}: no cell groups; not a Liberty library")
    label = name_or_path if name_or_path in NAMED_LIBRARIES else path.stem
    return Library(label, path, cells, _find_nand2(path, cells), _find_inverter(path, cells),
                   *_find_adders(cells))


def _combinational(cells: dict[str, Cell]):
    for cell in cells.values():
        if cell.sequential or any(p.function is None for p in cell.outputs) or not cell.outputs:
            continue
        yield cell


def _find_nand2(path: Path, cells: dict[str, Cell]) -> str:
    nand = (1, 1, 1, 0)
    found = [c for c in _combinational(cells)
             if len(c.inputs) == 2 and len(c.outputs) == 1
             and truth_table(c.outputs[0].function or "", c.inputs) == nand]
    if not found:
        raise LibertyError(f"{path}: no two-input NAND cell, the reference for NAND2 equivalents")
    return min(found, key=lambda c: (c.area, c.name)).name


def _find_inverter(path: Path, cells: dict[str, Cell]) -> str:
    found = [c for c in _combinational(cells)
             if len(c.inputs) == 1 and len(c.outputs) == 1
             and truth_table(c.outputs[0].function or "", c.inputs) == (1, 0)]
    if not found:
        raise LibertyError(f"{path}: no inverter cell")
    return min(found, key=lambda c: (c.area, c.name)).name


def _find_adders(cells: dict[str, Cell]) -> tuple[AdderCell | None, AdderCell | None]:
    full = half = None
    for cell in sorted(_combinational(cells), key=lambda c: (c.area, c.name)):
        if len(cell.outputs) != 2 or len(cell.inputs) not in (2, 3):
            continue
        n = len(cell.inputs)
        tables = {p.name: truth_table(p.function or "", cell.inputs) for p in cell.outputs}
        rows = list(itertools.product((0, 1), repeat=n))
        want_sum = tuple(sum(r) & 1 for r in rows)
        want_carry = tuple(int(sum(r) >= 2) for r in rows)
        carry = [p for p, t in tables.items() if t == want_carry]
        total = [p for p, t in tables.items() if t == want_sum]
        if carry and total:
            adder = AdderCell(cell.name, tuple(cell.inputs), carry[0], total[0])
            if n == 3 and full is None:
                full = adder
            if n == 2 and half is None:
                half = adder
    return full, half


def adder_techmap(library: Library) -> str | None:
    """A yosys techmap putting the library's adder cells in place of `$fa` cells (those
    `extract_fa` finds): a half adder where the third input is constant 0."""
    fa, ha = library.full_adder, library.half_adder
    if fa is None:
        return None

    def inst(cell: AdderCell, operands: list[str]) -> str:
        pins = [f".{p}({o}[i])" for p, o in zip(cell.inputs, operands, strict=True)]
        pins += [f".{cell.carry}(X[i])", f".{cell.sum}(Y[i])"]
        return f"{cell.name} adder ({', '.join(pins)});"

    half = (f"    if (_TECHMAP_CONSTMSK_C_[i] && !_TECHMAP_CONSTVAL_C_[i]) begin : g_half\n"
            f"      {inst(ha, ['A', 'B'])}\n    end else begin : g_full\n"
            f"      {inst(fa, ['A', 'B', 'C'])}\n    end\n") if ha else \
        f"    begin : g_full\n      {inst(fa, ['A', 'B', 'C'])}\n    end\n"
    return ("(* techmap_celltype = \"$fa\" *)\n"
            "module _asicgen_fa (A, B, C, X, Y);\n"
            "  parameter WIDTH = 1;\n"
            "  parameter _TECHMAP_CONSTMSK_C_ = 0;\n  parameter _TECHMAP_CONSTVAL_C_ = 0;\n"
            "  input [WIDTH-1:0] A, B, C;\n  output [WIDTH-1:0] X, Y;\n  genvar i;\n"
            "  generate for (i = 0; i < WIDTH; i = i + 1) begin : g_bit\n"
            f"{half}  end endgenerate\nendmodule\n")
