"""A mapped netlist with every library cell written in place, for gate-level simulation.

Instantiating a model module per cell gives Verilator one trigger per flip-flop (each
instance's own clock and clear wires) and a model that grows by kilobytes of C++ per cell:
the small network's II = 1 netlist (40,367 cells) wrote 107 MB of C++ and took 741 s to
build. Here each cell instance becomes what its model says, over the netlist's own nets:

* a combinational cell: one `assign` per connected output, its Liberty function with every
  pin replaced by the net on it;
* a flip-flop: a `reg`, an `always` block whose events are the nets on its clock, clear and
  preset pins (`posedge`/`negedge` as the function reads them, so every flip-flop on the same
  clock and reset shares one trigger) and its outputs as functions of the state; a clear or
  preset tied inactive is left out;
* a latch: a `reg` following its data while its enable holds.

A netlist `asicgen synth` writes keeps the RTL's hierarchy: a few distinct dot-product
modules, each instantiated many times. With `hierarchical`, every module used more than once
is marked as a Verilator hierarchical block (`--hierarchical`): Verilator builds it once, as a
library of its own, for all its instances, instead of once per instance.

The expressions are the ones `asicgen.cell_models` renders, and the proof
(`asicgen.gate.prove_models`) runs on this writer's output for the proof harness, so what is
simulated is what was proven. Other lines of the netlist (ports, wires, assigns, instances of
the netlist's own modules) are kept as they are.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from asicgen.cell_models import (
    CellModelError,
    Instance,
    cell_model,
    netlist_items,
    never_active,
    tied_pins,
    verilog_expression,
)
from asicgen.core.atomic import write_text
from asicgen.core.outputs import file_sha256
from asicgen.core.render import Stamp, environment, render
from asicgen.liberty import Cell, Library

#: prefix of the names this writer adds (state registers, event wires)
PREFIX = "asicgen_"


@dataclass(frozen=True)
class Text:
    """A netlist line kept as it is."""

    text: str
    kind: str = "text"


@dataclass(frozen=True)
class Assign:
    target: str
    expression: str
    kind: str = "assign"


@dataclass(frozen=True)
class Event:
    edge: str  # posedge or negedge
    net: str
    #: the level at which the event's function holds, over the net
    active: str


@dataclass(frozen=True)
class State:
    """A flip-flop or latch cell written in place."""

    comment: str
    reg: str
    latch: bool
    #: wires the events need (a clock or clear function of more than one pin)
    wires: tuple[Assign, ...]
    clock: Event
    clear: Event | None
    preset: Event | None
    #: the state while clear and preset both hold (None: they never both hold here)
    both: str | None
    data: str
    outputs: tuple[Assign, ...]
    kind: str = "state"


def _net(connection: str) -> str:
    # an escaped identifier ends at white space: keep one before anything that follows
    return f"({connection} )"


def _pin_nets(instance: Instance, cell: Cell) -> dict[str, str]:
    missing = [p for p in cell.inputs if not instance.pins.get(p)]
    if missing:
        raise CellModelError(f"{instance.cell} {instance.name}: input pin(s) {', '.join(missing)} "
                             "not connected")
    return {p: _net(instance.pins[p]) for p in cell.inputs}


def _combinational(instance: Instance, cell: Cell) -> Iterator[Assign]:
    model = cell_model(cell)
    nets = _pin_nets(instance, cell)
    for out in model.outputs:
        target = instance.pins.get(out.pin, "")
        if target:
            yield Assign(target, _function_expression(cell, out.pin, nets))


def _function_expression(cell: Cell, pin: str, nets: dict[str, str]) -> str:
    function = next(p.function for p in cell.outputs if p.name == pin)
    return verilog_expression(function or "", nets)


def _event(function: str, instance: Instance, cell: Cell, nets: dict[str, str], wire: str,
           wires: list[Assign]) -> Event:
    """The event of a clock, clear or preset function: the edge of the net on its one pin, or
    the rise of a wire holding the function."""
    bare = function.replace(" ", "").strip("()")
    for pin in cell.inputs:
        connection = instance.pins[pin]
        if bare == pin:
            return Event("posedge", connection, nets[pin])
        if bare in (f"!{pin}", f"{pin}'"):
            return Event("negedge", connection, f"(~{nets[pin]})")
    wires.append(Assign(wire, verilog_expression(function, nets)))
    return Event("posedge", wire, wire)


def _state(instance: Instance, cell: Cell, index: int) -> State:
    group = cell.state
    assert group is not None
    nets = _pin_nets(instance, cell)
    tied = tied_pins(instance.pins)
    reg = f"{PREFIX}q{index}"
    wires: list[Assign] = []
    clock = _event(group.clock, instance, cell, nets, f"{PREFIX}clock{index}", wires)
    clear = preset = None
    if group.clear and not never_active(group.clear, cell, tied):
        clear = _event(group.clear, instance, cell, nets, f"{PREFIX}clear{index}", wires)
    if group.preset and not never_active(group.preset, cell, tied):
        preset = _event(group.preset, instance, cell, nets, f"{PREFIX}preset{index}", wires)
    model = cell_model(cell).state
    assert model is not None
    both = model.both if clear and preset else None
    inverted = f"(~{reg})"
    if both is not None and model.both_inverted is not None:
        other = model.both_inverted.replace(model.state, reg)
        inverted = f"(({clear.active} & {preset.active}) ? {other} : (~{reg}))"
    state_names = {group.state: reg, group.state_inverted: inverted}
    outputs = tuple(Assign(instance.pins[p.name], verilog_expression(p.function or "", state_names))
                    for p in cell.outputs if instance.pins.get(p.name))
    return State(f"{instance.cell} {instance.name}", reg, group.kind == "latch", tuple(wires), clock, clear,
                 preset, None if both is None else both.replace(model.state, reg),
                 verilog_expression(group.data, nets), outputs)


#: a module header line; group 1 the module name
MODULE_HEADER = re.compile(r"^module\s+(\S+)\s*\(")
_SUBMODULE = re.compile(r"^\s+(\S+)\s+\S+\s+\($")
#: Verilator's mark of a module it builds once, as its own library, for every instance
HIER_BLOCK = "  /*verilator hier_block*/"


@dataclass(frozen=True)
class Hierarchy:
    """The netlist's own modules: the cells each holds and the modules it instantiates."""

    cells: dict[str, int]
    children: dict[str, Counter]

    def uses(self) -> Counter:
        return sum(self.children.values(), Counter())

    def flattened_cells(self, top: str) -> int:
        """The cells of `top` with every module instance expanded."""
        return self.cells.get(top, 0) + sum(n * self.flattened_cells(child)
                                            for child, n in self.children.get(top, Counter()).items()
                                            if child in self.cells)


def hierarchy(netlist: Path, library: Library) -> Hierarchy:
    cells: dict[str, int] = {}
    children: dict[str, Counter] = {}
    current = ""
    for item in netlist_items(netlist, library):
        if isinstance(item, Instance):
            cells[current] = cells.get(current, 0) + 1
        elif found := MODULE_HEADER.match(item):
            current = found.group(1)
            cells.setdefault(current, 0)
            children[current] = Counter()
        elif found := _SUBMODULE.match(item):
            children[current][found.group(1)] += 1
    return Hierarchy(cells, children)


def repeated_modules(netlist: Path, library: Library) -> set[str]:
    """The netlist's own modules instantiated more than once."""
    found = hierarchy(netlist, library)
    uses = found.uses()
    return {m for m in found.cells if uses[m] > 1}


def block_names(hier_blocks: Collection[str]) -> dict[str, str]:
    """A plain identifier for each hierarchical block. Verilator matches a block to its
    instances by a mangled name, and a name with `__`, `$` or `\\` (`ae_dot__a125c4ba`,
    `\\$paramod$...\\ae_dot`) is mangled differently in the two places: the block is then
    built and not used, and every instance compiled in full inside its parent."""
    return {name: f"{PREFIX}block{k}" for k, name in enumerate(sorted(hier_blocks))}


def _renamed(line: str, names: Mapping[str, str]) -> tuple[str, str | None]:
    """`line` with a module header's or an instance's module name renamed; and the original
    name of a renamed header."""
    for pattern in (MODULE_HEADER, _SUBMODULE):
        found = pattern.match(line)
        if found and found.group(1) in names:
            start, end = found.span(1)
            return line[:start] + names[found.group(1)] + " " + line[end:].lstrip(), \
                found.group(1) if pattern is MODULE_HEADER else None
    return line, None


def inline_items(netlist: Path, library: Library, hier_blocks: Collection[str] = frozenset()
                 ) -> Iterator[Text | Assign | State]:
    """The netlist's lines with every library-cell instance replaced by what it computes, and
    the modules of `hier_blocks` renamed (`block_names`) and marked for Verilator to build
    once each."""
    names = block_names(hier_blocks)
    index = 0
    for item in netlist_items(netlist, library):
        if not isinstance(item, Instance):
            line, original = _renamed(item, names)
            yield Text(line)
            if original is not None:
                yield Text(f"{HIER_BLOCK}  // {original}")
            continue
        cell = library.cells[item.cell]
        if cell.state is None:
            yield from _combinational(item, cell)
        else:
            yield _state(item, cell, index)
            index += 1


@dataclass(frozen=True)
class InlineNetlist:
    path: Path
    #: modules Verilator builds once each (`--hierarchical`)
    hier_blocks: frozenset[str]

    @property
    def build_args(self) -> list[str]:
        return ["--hierarchical"] if self.hier_blocks else []


def inline_netlist(netlist: Path, library: Library, out: Path, hierarchical: bool = False) -> InlineNetlist:
    """Write `netlist` with its cells in place (see the module doc) to `out`; `hierarchical`
    marks every module the netlist instantiates more than once as a Verilator hierarchical
    block, built once for all its instances."""
    hier_blocks = frozenset(repeated_modules(netlist, library)) if hierarchical else frozenset()
    stamp = Stamp(f"{Path(netlist).name} with the cells of {library.name} written in place",
                  file_sha256(Path(netlist)), "asicgen.gate_netlist.inline_netlist")
    text = render(environment("gate"), "inline.v.j2", stamp, Path(out).name,
                  items=inline_items(netlist, library, hier_blocks))
    write_text(Path(out), text)
    return InlineNetlist(Path(out), hier_blocks)
