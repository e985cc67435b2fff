"""Single points of failure of a hardened netlist: nets in the next-state logic of two copies
of one register.

An independent structural check of what the TMR pass wrote (it reuses nothing of the pass but
how replicas are marked): for every triplicated register, the cone of each of its three
copies is walked back from the copy's inputs (every input but the clock) through
combinational cells, stateless submodule instances and flip-flops that are not replicas
(unvoted registers such as pad synchronisers), to the outputs of replicas and to the pads.
A net bit in the cones of two copies of one register is *common-mode*: one transient on it
at a clock edge can write the same wrong value into two copies, which the voters then
follow. Pads (input ports) are reported by name apart from the internal nets.

The walk is bit-precise through bitwise cells and multiplexers (bit i of the output depends
on bit i of the data inputs and on the select), and conservative through every other cell
(every output bit depends on every input bit): a count of 0 is exact, a positive count may
include nets that a finer analysis would clear.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tmr.transform import CLOCK_PORTS, cell_kind

Bit = int | str

#: cells whose output bit i depends on bit i of each input only (when the widths are equal)
_POSITIONAL = frozenset({"$and", "$or", "$xor", "$xnor", "$not", "$pos", "$_AND_", "$_OR_", "$_XOR_",
                         "$_NOT_", "$_BUF_"})
_REPLICA_NAME = re.compile(r"__tmr([012])_ff$")


@dataclass
class CommonMode:
    """The result of `common_mode`."""

    #: triplicated registers looked at (`full` and `full-shared`)
    registers: int = 0
    #: internal net bits in the cones of two or more copies of one register
    nets: int = 0
    #: pads (input ports) in the cones of two or more copies of one register, by name
    pads: list[str] = field(default_factory=list)
    #: registers with at least one common-mode internal net, and how many such nets each has
    exposed: dict[str, int] = field(default_factory=dict)
    #: bits of the exposed registers (every bit of a register with a common-mode net)
    exposed_bits: int = 0
    #: a few common-mode nets by name, for the report
    examples: list[str] = field(default_factory=list)
    #: internal net bits in the next-state logic of copy k of the registers and of no other copy of
    #: the same register (k = 0, 1, 2; with full module triplication, each domain's own logic)
    copy_nets: list[int] = field(default_factory=list)
    #: internal net bits in the next-state logic of any copy (each counted once)
    state_nets: int = 0
    #: internal net bits of the whole module (every cell output bit)
    total_nets: int = 0

    def line(self) -> str:
        pads = ", ".join(self.pads) or "none"
        return (f"common-mode nets: {self.nets:,} internal net bits in the next-state logic of two copies "
                f"of one register ({len(self.exposed)} of {self.registers} triplicated registers, "
                f"{self.exposed_bits:,} bits, exposed); pads read by every copy: {pads}")


def attribute_int(value: Any) -> int | None:
    """An integer attribute as the pass wrote it (int) or as yosys writes it back (binary string)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[01]+", value):
        return int(value, 2)
    return None


#: the policies whose registers hold state that must survive: their copies must not share logic
#: (`pipeline` registers share their next-state logic by design, refreshed every crossing)
STATE_POLICIES = ("full", "full-shared")


def replicas(module: dict[str, Any], policies: tuple[str, ...] = STATE_POLICIES) -> dict[str, dict[int, str]]:
    """Register name -> copy index -> flip-flop cell, from the marks the pass leaves
    (`tmr_replica_of`, `tmr_copy`, or the `__tmr<k>_ff` cell name), for the registers of
    `policies` (`tmr_policy`; a replica without that mark counts as `full`)."""
    found: dict[str, dict[int, str]] = defaultdict(dict)
    for name, cell in module["cells"].items():
        attributes = cell.get("attributes", {})
        owner = attributes.get("tmr_replica_of")
        if owner is None or cell_kind(cell["type"]) != "ff":
            continue
        if str(attributes.get("tmr_policy", "full")) not in policies:
            continue
        k = attribute_int(attributes.get("tmr_copy"))
        if k is None:
            matched = _REPLICA_NAME.search(name)
            k = int(matched.group(1)) if matched else None
        if k is not None:
            found[str(owner)][k] = name
    return {reg: copies for reg, copies in found.items() if len(copies) == 3}


class _Graph:
    def __init__(self, module: dict[str, Any]):
        self.cells = module["cells"]
        self.driver: dict[Bit, tuple[str, str, int]] = {}
        self.pads: dict[Bit, str] = {}
        for port, info in module["ports"].items():
            if info["direction"] == "input":
                for i, bit in enumerate(info["bits"]):
                    self.pads[bit] = port if len(info["bits"]) == 1 else f"{port}[{i}]"
        for name, cell in self.cells.items():
            directions = cell.get("port_directions", {})
            for port, bits in cell["connections"].items():
                if directions.get(port) == "output":
                    for i, bit in enumerate(bits):
                        if not isinstance(bit, str):
                            self.driver[bit] = (name, port, i)
        self.replica_cells: set[str] = set()

    def fan_in(self, name: str, position: int) -> list[Bit]:
        """The bits output bit `position` of cell `name` depends on (clock excluded)."""
        cell = self.cells[name]
        kind = cell["type"]
        directions = cell.get("port_directions", {})
        inputs = {p: bits for p, bits in cell["connections"].items() if directions.get(p) != "output"}
        if kind in _POSITIONAL and all(len(bits) > position for bits in inputs.values()):
            return [bits[position] for bits in inputs.values()]
        if kind in ("$mux", "$_MUX_") and len(inputs.get("A", [])) > position:
            return [inputs["A"][position], inputs["B"][position], *inputs["S"]]
        if cell_kind(kind) == "ff":
            out: list[Bit] = []
            for port, bits in inputs.items():
                if port in CLOCK_PORTS:
                    continue
                out.extend([bits[position]] if len(bits) > position and port in ("D", "AD", "SET", "CLR")
                           else bits)
            return out
        return [b for bits in inputs.values() for b in bits]

    def cone(self, cell_name: str) -> set[Bit]:
        """Every bit the next value of the flip-flop `cell_name` depends on, back to replica
        outputs and pads."""
        cell = self.cells[cell_name]
        directions = cell.get("port_directions", {})
        pending = [b for p, bits in cell["connections"].items()
                   if directions.get(p) != "output" and p not in CLOCK_PORTS for b in bits]
        seen: set[Bit] = set()
        while pending:
            bit = pending.pop()
            if isinstance(bit, str) or bit in seen:
                continue
            seen.add(bit)
            found = self.driver.get(bit)
            if found is None:
                continue
            if found[0] in self.replica_cells:
                seen.discard(bit)  # a copy's output reaches each voter once: one wrong copy is outvoted
                continue
            pending.extend(self.fan_in(found[0], found[2]))
        return seen


def common_mode(module: dict[str, Any], example_names: int = 5) -> CommonMode:
    """The common-mode nets of a flat hardened module (module docstring)."""
    graph = _Graph(module)
    triplets = replicas(module)
    graph.replica_cells = {cell for copies in replicas(module, ("full", "full-shared", "pipeline")).values()
                           for cell in copies.values()}
    result = CommonMode(registers=len(triplets))
    shared_bits: set[Bit] = set()
    pads: set[str] = set()
    per_copy: list[set[Bit]] = [set(), set(), set()]
    for register, copies in sorted(triplets.items()):
        cones = [graph.cone(copies[k]) for k in range(3)]
        for k in range(3):
            per_copy[k] |= {b for b in cones[k] if b not in graph.pads}
        twice = (cones[0] & cones[1]) | (cones[0] & cones[2]) | (cones[1] & cones[2])
        internal = {b for b in twice if b not in graph.pads}
        pads.update(graph.pads[b] for b in twice if b in graph.pads)
        if internal:
            result.exposed[register] = len(internal)
            result.exposed_bits += len(module["cells"][copies[0]]["connections"]["Q"])
        shared_bits |= internal
    result.nets = len(shared_bits)
    result.copy_nets = [len(bits - shared_bits) for bits in per_copy]
    result.state_nets = len(per_copy[0] | per_copy[1] | per_copy[2])
    result.total_nets = len(graph.driver)
    result.pads = sorted(pads, key=_pad_order)
    names = _names(module)
    result.examples = sorted({names.get(b, str(b)) for b in shared_bits})[:example_names]
    return result


def copy_cones(module: dict[str, Any]) -> dict[Bit, frozenset[int]]:
    """Every internal net bit in the next-state logic of a copy of a state register (`full`,
    `full-shared`), with the copies (0, 1, 2) whose logic it is in: one copy with full module
    triplication, two or three for a common-mode net."""
    graph = _Graph(module)
    graph.replica_cells = {cell for copies in replicas(module, ("full", "full-shared", "pipeline")).values()
                           for cell in copies.values()}
    member: dict[Bit, set[int]] = defaultdict(set)
    for _register, copies in sorted(replicas(module).items()):
        for k in range(3):
            for bit in graph.cone(copies[k]):
                if bit not in graph.pads:
                    member[bit].add(k)
    return {bit: frozenset(ks) for bit, ks in member.items()}


def net_names(module: dict[str, Any]) -> dict[Bit, str]:
    """A readable name of every named net bit (`name` or `name[i]`)."""
    return _names(module)


def _pad_order(name: str) -> tuple[str, int]:
    base, _, index = name.partition("[")
    return base, int(index.rstrip("]") or 0)


def _names(module: dict[str, Any]) -> dict[Bit, str]:
    names: dict[Bit, str] = {}
    for name, net in sorted(module["netnames"].items(), key=lambda kv: (kv[1].get("hide_name", 0), kv[0])):
        for i, bit in enumerate(net["bits"]):
            names.setdefault(bit, name if len(net["bits"]) == 1 else f"{name}[{i}]")
    return names
