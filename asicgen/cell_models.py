"""Simulation models of a cell library's cells, written from its Liberty `function`s and
`ff`/`latch` groups, for gate-level simulation of the netlists `asicgen synth --liberty` maps.

Why not the library's own Verilog: osu018's `DFFSR` passes D through a `not` into a UDP, which
races under Verilator (most clocks of a four-flip-flop chain wrong, the mapped I2C target NACKs
every address). Models written from the Liberty have no such race. `asicgen.gate_netlist`
writes them in place of a netlist's cell instances, and `verif/tb_cells.py` proves what it
writes against the Liberty, on a harness of every cell, before a netlist is simulated with
it: combinational cells
on every input combination, flip-flops and latches in lockstep with the Liberty's state-group
semantics on random stimulus (clocks, data, clear and preset).

What the models do not reproduce, by design: timing (zero delay), three-state outputs (no
model is written; synthesis here never maps onto them, and a netlist that uses one is refused
by name), and the one sequence where an edge-triggered model and the Liberty's level-sensitive
clear/preset differ: clear and preset both active, then one released while the other stays
active. `check_netlist_cells` refuses a netlist whose flip-flops could see that (a flip-flop
with both clear and preset driven by logic rather than tied inactive).

The Verilog expression of a function is rendered by a parser of its own, separate from the
evaluator in `asicgen.liberty` that the proof takes as the reference: a misreading in either
shows as a mismatch.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from asicgen.core.outputs import file_sha256
from asicgen.core.render import Stamp, environment, render
from asicgen.liberty import Cell, LibertyError, Library, StateGroup, truth_table

#: values of clear_preset_var1/2 the models render: low, high, unchanged
CLEAR_PRESET_VALUES = {"L": "1'b0", "H": "1'b1"}


class CellModelError(LibertyError):
    """A cell, or a netlist's use of it, that the models cannot simulate faithfully."""


# -- Liberty function -> Verilog expression ------------------------------------------------

_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[01]|[!'()^*&+|])")


def verilog_expression(function: str, names: set[str] | Mapping[str, str]) -> str:
    """The Liberty boolean `function` as a Verilog expression over `names` (fully bracketed); a
    mapping renders each name as its value (a net of a netlist in place of a pin)."""
    if not isinstance(names, Mapping):
        names = {n: n for n in names}
    tokens = [m.group(1) for m in _TOKEN.finditer(function)]
    if "".join(tokens) != re.sub(r"\s+", "", function):
        raise CellModelError(f"cannot read function {function!r}")
    expr, rest = _or(tokens, names)
    if rest:
        raise CellModelError(f"cannot read function {function!r} (stopped at {''.join(rest)!r})")
    return expr


def _or(tokens: list[str], names: Mapping[str, str]) -> tuple[str, list[str]]:
    terms = []
    term, tokens = _and(tokens, names)
    terms.append(term)
    while tokens and tokens[0] in ("+", "|"):
        term, tokens = _and(tokens[1:], names)
        terms.append(term)
    return (terms[0] if len(terms) == 1 else "(" + " | ".join(terms) + ")"), tokens


def _starts_factor(token: str) -> bool:
    return token in ("(", "!", "0", "1") or token[0].isalpha() or token[0] == "_"


def _and(tokens: list[str], names: Mapping[str, str]) -> tuple[str, list[str]]:
    factors = []
    factor, tokens = _xor(tokens, names)
    factors.append(factor)
    while tokens and (tokens[0] in ("*", "&") or _starts_factor(tokens[0])):
        if tokens[0] in ("*", "&"):
            tokens = tokens[1:]
        factor, tokens = _xor(tokens, names)
        factors.append(factor)
    return (factors[0] if len(factors) == 1 else "(" + " & ".join(factors) + ")"), tokens


def _xor(tokens: list[str], names: Mapping[str, str]) -> tuple[str, list[str]]:
    parts = []
    part, tokens = _unary(tokens, names)
    parts.append(part)
    while tokens and tokens[0] == "^":
        part, tokens = _unary(tokens[1:], names)
        parts.append(part)
    return (parts[0] if len(parts) == 1 else "(" + " ^ ".join(parts) + ")"), tokens


def _unary(tokens: list[str], names: Mapping[str, str]) -> tuple[str, list[str]]:
    if not tokens:
        raise CellModelError("a function ends early")
    head, tokens = tokens[0], tokens[1:]
    if head == "!":
        inner, tokens = _unary(tokens, names)
        expr = f"(~{inner})"
    elif head == "(":
        expr, tokens = _or(tokens, names)
        if not tokens or tokens[0] != ")":
            raise CellModelError("unbalanced parentheses in a function")
        tokens = tokens[1:]
    elif head in ("0", "1"):
        expr = f"1'b{head}"
    elif head in names:
        expr = names[head]
    else:
        raise CellModelError(f"a function names {head!r}, not a pin or state of the cell")
    while tokens and tokens[0] == "'":
        expr, tokens = f"(~{expr})", tokens[1:]
    return expr, tokens


# -- the models ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputModel:
    pin: str
    expression: str


@dataclass(frozen=True)
class StateModel:
    """What the template needs of an `ff` or `latch` group, every expression rendered."""

    kind: str
    state: str
    state_inverted: str
    data: str
    clock: str
    clear: str | None
    preset: str | None
    #: the state and its complement while clear and preset both hold (None: not both present)
    both: str | None
    both_inverted: str | None


@dataclass(frozen=True)
class CellModel:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[OutputModel, ...]
    state: StateModel | None

    @property
    def ports(self) -> tuple[str, ...]:
        return (*self.inputs, *(o.pin for o in self.outputs))


def modelled(cell: Cell) -> bool:
    """Cells a model is written for: outputs with functions, no three-state driver."""
    return bool(cell.outputs) and all(p.function and not p.three_state for p in cell.outputs)


def _clear_preset(value: str | None, state: str, cell: str, attribute: str) -> str:
    if value is None or value == "N":
        return state
    if value not in CLEAR_PRESET_VALUES:
        raise CellModelError(f"cell {cell}: {attribute} {value!r} is not modelled (L, H or N)")
    return CLEAR_PRESET_VALUES[value]


def _state_model(cell: Cell, group: StateGroup) -> StateModel:
    inputs = set(cell.inputs)
    both = None
    if group.clear and group.preset:
        both = _clear_preset(group.clear_preset_var1, group.state, cell.name, "clear_preset_var1")
    both_inverted = None
    if both is not None and group.clear_preset_var2:
        both_inverted = _clear_preset(group.clear_preset_var2, f"(~{group.state})", cell.name,
                                      "clear_preset_var2")
    return StateModel(group.kind, group.state, group.state_inverted, verilog_expression(group.data, inputs),
                      verilog_expression(group.clock, inputs),
                      verilog_expression(group.clear, inputs) if group.clear else None,
                      verilog_expression(group.preset, inputs) if group.preset else None,
                      both, both_inverted)


def cell_model(cell: Cell) -> CellModel:
    names = set(cell.inputs)
    state = _state_model(cell, cell.state) if cell.state else None
    if state is not None:
        names |= {state.state, state.state_inverted}
    outputs = tuple(OutputModel(p.name, verilog_expression(p.function or "", names)) for p in cell.outputs)
    return CellModel(cell.name, tuple(cell.inputs), outputs, state)


def library_models(library: Library) -> list[CellModel]:
    return [cell_model(c) for _, c in sorted(library.cells.items()) if modelled(c)]


# -- what the proof compares with: the Liberty read by asicgen.liberty -----------------------


def reference_tables(cell: Cell) -> dict[str, object]:
    """The Liberty semantics of `cell` as truth tables over its inputs (input 0 the most
    significant bit of the row index), for verif/tb_cells.py: the outputs' functions, and for a
    state group its data, clock, clear and preset functions and the outputs over the state."""
    inputs = list(cell.inputs)
    raw: dict[str, object] = {"name": cell.name, "inputs": inputs, "outputs": [p.name for p in cell.outputs]}
    group = cell.state
    if group is None:
        raw["tables"] = {p.name: list(truth_table(p.function or "", inputs)) for p in cell.outputs}
        return raw
    raw["kind"] = group.kind
    raw["clock_inputs"] = [i for i in inputs if re.search(rf"\b{i}\b", group.clock)]
    for key, function in (("data", group.data), ("clock", group.clock), ("clear", group.clear),
                          ("preset", group.preset)):
        raw[key] = list(truth_table(function, inputs)) if function else None
    raw["both"] = group.clear_preset_var1 or "N"
    state_names = [group.state, group.state_inverted]
    raw["output_of_state"] = {p.name: list(truth_table(p.function or "", state_names)) for p in cell.outputs}
    return raw


# -- the proof harness ----------------------------------------------------------------------

#: top module of the proof harness
CHECK_TOP = "cell_check"
CHECK_FILE = "cell_check.sv"


@dataclass(frozen=True)
class HarnessPort:
    name: str
    direction: str


@dataclass(frozen=True)
class HarnessInstance:
    cell: str
    name: str
    connections: tuple[tuple[str, str], ...]


def check_port(cell: str, pin: str) -> str:
    """The harness port wired to `pin` of the instance of `cell`."""
    return f"{cell}__{pin}"


#: flip-flops in each chain of the harness: an edge must move every stage's value one stage on
CHAIN_LENGTH = 4


@dataclass(frozen=True)
class ChainPins:
    data: str
    output: str


def chain_pins(cell: Cell) -> ChainPins | None:
    """A flip-flop whose next state is one input pin and with an output equal to its state is
    checked in a chain too (output of one copy into the data input of the next, one clock),
    where a model with an ordering race (the library's own DFFSR under Verilator) fails."""
    group = cell.state
    if group is None or group.kind != "ff" or group.data.strip("() ") not in cell.inputs:
        return None
    q = [p.name for p in cell.outputs if (p.function or "").strip("() ") == group.state]
    return ChainPins(group.data.strip("() "), q[0]) if q else None


def chain_port(cell: str, pin: str, stage: int | None = None) -> str:
    """The harness port of `pin` of a chain of `cell`: shared inputs, or one stage's output."""
    return f"{cell}__chain__{pin}" if stage is None else f"{cell}__chain__{pin}{stage}"


def _chain_instances(cell: Cell, pins: ChainPins) -> tuple[list[HarnessPort], list[HarnessInstance]]:
    ports = [HarnessPort(chain_port(cell.name, p), "input") for p in cell.inputs]
    ports += [HarnessPort(chain_port(cell.name, pins.output, k), "output") for k in range(CHAIN_LENGTH)]
    instances = []
    for k in range(CHAIN_LENGTH):
        source = chain_port(cell.name, pins.data) if k == 0 else chain_port(cell.name, pins.output, k - 1)
        connections = [(p, source if p == pins.data else chain_port(cell.name, p)) for p in cell.inputs]
        connections.append((pins.output, chain_port(cell.name, pins.output, k)))
        instances.append(HarnessInstance(cell.name, f"u_{cell.name}_chain{k}", tuple(connections)))
    return ports, instances


def harness_verilog(library: Library) -> str:
    models = library_models(library)
    ports = [HarnessPort(check_port(m.name, pin), "input" if pin in m.inputs else "output")
             for m in models for pin in m.ports]
    instances = [HarnessInstance(m.name, f"u_{m.name}", tuple((p, check_port(m.name, p)) for p in m.ports))
                 for m in models]
    for m in models:
        pins = chain_pins(library.cells[m.name])
        if pins is not None and len(m.outputs) == 1:
            chain_ports, chain_instances = _chain_instances(library.cells[m.name], pins)
            ports += chain_ports
            instances += chain_instances
    stamp = Stamp(f"proof harness of the cell models of {library.name}", file_sha256(library.path),
                  "asicgen.gate.prove_models")
    return render(environment("gate"), "cell_check.sv.j2", stamp, CHECK_FILE, top=CHECK_TOP, ports=ports,
                  instances=instances)


def check_config(library: Library) -> list[dict[str, object]]:
    """The reference of every modelled cell (`reference_tables`), with the harness port of each pin."""
    cells = []
    for _, cell in sorted(library.cells.items()):
        if modelled(cell):
            raw = reference_tables(cell)
            raw["ports"] = {p.name: check_port(cell.name, p.name) for p in cell.pins}
            pins = chain_pins(cell)
            if pins is not None and len(cell.outputs) == 1:
                raw["chain"] = {"data": pins.data, "output": pins.output,
                                "inputs": {p: chain_port(cell.name, p) for p in cell.inputs},
                                "outputs": [chain_port(cell.name, pins.output, k)
                                            for k in range(CHAIN_LENGTH)]}
            cells.append(raw)
    return cells


# -- what a netlist may use ------------------------------------------------------------------

_INSTANCE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(\S+)\s*\(\s*$")
_CONNECTION = re.compile(r"^\s*\.(\w+)\((.*)\),?\s*$")
_CONSTANT = re.compile(r"^1'(?:h|b)([01])$")


@dataclass(frozen=True)
class Instance:
    """A library-cell instance of a netlist: its cell, name and pin connections."""

    cell: str
    name: str
    pins: dict[str, str]


def netlist_items(netlist: Path, library: Library) -> Iterator[str | Instance]:
    """A netlist yosys wrote (`write_verilog -noattr`) as its lines, except that every
    library-cell instance comes as one `Instance` in place of its lines."""
    current: Instance | None = None
    with Path(netlist).open() as lines:
        for line in lines:
            if current is not None:
                pin = _CONNECTION.match(line)
                if pin:
                    current.pins[pin.group(1)] = pin.group(2).strip()
                if line.strip().startswith(");"):
                    yield current
                    current = None
                continue
            found = _INSTANCE.match(line)
            if found and found.group(1) in library.cells:
                current = Instance(found.group(1), found.group(2), {})
            else:
                yield line.rstrip("\n")
    if current is not None:
        raise CellModelError(f"{netlist}: instance {current.name} of {current.cell} does not end")


def instances(netlist: Path, library: Library) -> Iterator[Instance]:
    """Every library-cell instance of a netlist yosys wrote (`write_verilog -noattr`), in order."""
    return (item for item in netlist_items(netlist, library) if isinstance(item, Instance))


def tied_pins(pins: Mapping[str, str]) -> dict[str, int]:
    """The pins of an instance tied to a constant, with its value."""
    return {p: int(m.group(1)) for p, c in pins.items() if (m := _CONSTANT.match(c))}


def never_active(function: str, cell: Cell, tied: Mapping[str, int]) -> bool:
    """True when the pin function of `cell` stays 0 whatever its untied inputs do."""
    return _never_active(function, tuple(cell.inputs), tuple(sorted(tied.items())))


@functools.lru_cache(maxsize=1024)
def _never_active(function: str, cell_inputs: tuple[str, ...], tied: tuple[tuple[str, int], ...]) -> bool:
    names = [p for p, _ in tied]
    free = [p for p in cell_inputs if p not in names]
    table = truth_table(function, free + names)
    tied_bits = [v for _, v in tied]
    width = len(free) + len(names)
    for row, value in enumerate(table):
        bits = [(row >> (width - 1 - i)) & 1 for i in range(width)]
        if bits[len(free):] == tied_bits and value:
            return False
    return True


def check_netlist_cells(netlist: Path, library: Library) -> dict[str, int]:
    """The cell counts of `netlist`, after checking the models simulate every instance
    faithfully: no cell without a model, and no flip-flop whose clear and preset can both be
    driven (`CellModelError` naming the instance's cell and pins)."""
    counts: dict[str, int] = {}
    for instance in instances(netlist, library):
        cell_name, pins = instance.cell, instance.pins
        cell = library.cells[cell_name]
        counts[cell_name] = counts.get(cell_name, 0) + 1
        if not modelled(cell):
            raise CellModelError(f"{netlist}: instance of {cell_name}, a cell with no simulation model "
                                 "(a three-state driver or an output without a function)")
        group = cell.state
        if group is None or not (group.clear and group.preset):
            continue
        tied = tied_pins(pins)
        if not (never_active(group.clear, cell, tied) or never_active(group.preset, cell, tied)):
            raise CellModelError(f"{netlist}: a {cell_name} with both clear ({group.clear}) and preset "
                                 f"({group.preset}) driven ({pins}): the models differ from the Liberty "
                                 "when one is released while the other holds")
    return dict(sorted(counts.items()))
