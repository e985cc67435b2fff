"""A flattened yosys JSON module, with the few edits the TMR pass needs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Bits = list[int | str]


@dataclass
class Module:
    name: str
    raw: dict[str, Any]
    next_bit: int = field(init=False)

    def __post_init__(self) -> None:
        used = [b for net in self.raw["netnames"].values() for b in net["bits"] if isinstance(b, int)]
        used += [b for cell in self.raw["cells"].values() for bits in cell["connections"].values()
                 for b in bits if isinstance(b, int)]
        self.next_bit = max(used, default=1) + 1

    @classmethod
    def load(cls, path: Path, top: str) -> tuple[dict[str, Any], Module]:
        design = json.loads(Path(path).read_text())
        return design, cls(top, design["modules"][top])

    @property
    def cells(self) -> dict[str, Any]:
        return self.raw["cells"]

    @property
    def netnames(self) -> dict[str, Any]:
        return self.raw["netnames"]

    @property
    def ports(self) -> dict[str, Any]:
        return self.raw["ports"]

    def new_bits(self, width: int) -> list[int]:
        bits = list(range(self.next_bit, self.next_bit + width))
        self.next_bit += width
        return bits

    def add_net(self, name: str, bits: Bits, attributes: dict[str, Any] | None = None) -> None:
        self.netnames[name] = {"hide_name": 0, "bits": list(bits), "attributes": attributes or {}}

    def add_cell(self, name: str, cell_type: str, parameters: dict[str, Any],
                 connections: dict[str, Bits], directions: dict[str, str],
                 attributes: dict[str, Any] | None = None) -> None:
        if name in self.cells:
            raise ValueError(f"cell {name} exists already")
        self.cells[name] = {"hide_name": 0, "type": cell_type, "parameters": parameters,
                            "attributes": attributes or {}, "port_directions": directions,
                            "connections": connections}

    def binary(self, cell_type: str, name: str, a: Bits, b: Bits, width: int, keep: bool = True) -> list[int]:
        """A word-level two-input cell ($and, $or, $xor); returns its output bits."""
        y = self.new_bits(width)
        params = {"A_SIGNED": 0, "B_SIGNED": 0, "A_WIDTH": len(a), "B_WIDTH": len(b), "Y_WIDTH": width}
        self.add_cell(name, cell_type, params, {"A": list(a), "B": list(b), "Y": y},
                      {"A": "input", "B": "input", "Y": "output"}, {"keep": 1} if keep else {})
        return y

    def reduce_or(self, name: str, a: Bits) -> list[int]:
        y = self.new_bits(1)
        self.add_cell(name, "$reduce_or", {"A_SIGNED": 0, "A_WIDTH": len(a), "Y_WIDTH": 1},
                      {"A": list(a), "Y": y}, {"A": "input", "Y": "output"}, {"keep": 1})
        return y

    def drive(self, name: str, target: Bits, source: Bits) -> None:
        """Connect `source` to the existing bits `target` (a buffer cell)."""
        self.add_cell(name, "$pos", {"A_SIGNED": 0, "A_WIDTH": len(source), "Y_WIDTH": len(target)},
                      {"A": list(source), "Y": list(target)}, {"A": "input", "Y": "output"}, {"keep": 1})
