"""Carry-save dot products: every partial-product bit of a dot product compressed by one
tree of full adders, then one carry-propagate adder (the `csa` structure of `ae_dot`).

A term is an unsigned activation `a` (ActBits) times a signed weight `w` (WeightBits, two's
complement). Its partial products are the bits `a[k] & w[j]` at column `j + k`; the weight's
sign row (`j = WeightBits - 1`) weighs `-2^(j+k)`, which is written as the inverted bit
`~(a[k] & w[j])` at `+2^(j+k)` plus the constant `-2^(j+k)` (Baugh-Wooley): no
sign-extension rows. The bias (signed, gated by `bias_en_i`, shifted left by BiasShift) is
handled the same way. All constants of the dot product are summed here into one number
whose 1 bits enter the tree. Columns at or above AccBits are dropped: the accumulator is
exact modulo 2^AccBits, as the chain structure is.

The tree is reduced column by column from the least significant one, always combining the
three earliest-arriving bits of a column in a full adder (its sum stays in the column, its
carry goes to the next), until every column holds at most two bits: the two rows of the
final adder. Every full adder removes one bit, so the count is fixed by the partial
products; picking the earliest bits keeps the tree shallow.

The tree is data (`DotTree`): the RTL writer renders it, and `evaluate` computes it in
Python, so the structure is checked against integer arithmetic independently of the RTL.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

#: the dot-product structures the RTL writer knows
DOT_STRUCTURES = ("csa", "chain")
#: the chain stays the default of the generated RTL until the carry-save trees simulate fast
#: enough in Verilator at the default size (their model of the default II=1 datapath is too
#: large to build in CI's budget); synthesis measures both (`asicgen synth --dot csa chain`)
DEFAULT_DOT_STRUCTURE = "chain"
#: what `asicgen synth` measures unless told otherwise: the structure to build silicon from
SYNTH_DOT_STRUCTURE = "csa"


@dataclass(frozen=True)
class DotShape:
    """One `ae_dot` parameter set."""

    n: int
    #: used[i]: term i exists (taps that only see zero padding are left out)
    used: tuple[bool, ...]
    act_bits: int
    weight_bits: int
    acc_bits: int
    bias_shift: int

    def used_literal(self) -> str:
        """The Used parameter as an N-bit SystemVerilog literal (term 0 in bit 0)."""
        bits = "".join("1" if u else "0" for u in reversed(self.used))
        return f"{self.n}'b{bits}"


# -- operands: what enters the tree ------------------------------------------------------


@dataclass(frozen=True)
class PartialProduct:
    term: int
    act_bit: int
    weight_bit: int
    inverted: bool


@dataclass(frozen=True)
class BiasBit:
    bit: int
    inverted: bool


@dataclass(frozen=True)
class One:
    pass


@dataclass(frozen=True)
class Node:
    """Output `index` of the adder tree (a full adder's sum or carry)."""

    index: int


Operand = PartialProduct | BiasBit | One | Node


@dataclass(frozen=True)
class FullAdder:
    inputs: tuple[Operand, Operand, Operand]
    #: node index of the sum; the carry is the node above it
    sum_node: int


@dataclass(frozen=True)
class DotTree:
    shape: DotShape
    adders: tuple[FullAdder, ...]
    #: the two rows of the final adder, one operand (or None for 0) per column
    row_a: tuple[Operand | None, ...]
    row_b: tuple[Operand | None, ...]
    #: full adders on the longest path from a partial product to a row
    depth: int

    @property
    def n_nodes(self) -> int:
        return 2 * len(self.adders)

    def evaluate(self, acts: list[int], weights: list[int], bias: int, bias_en: bool) -> int:
        """The tree's result for unsigned `acts` and signed `weights`/`bias`, as a signed AccBits value."""
        shape = self.shape
        wmask = (1 << shape.weight_bits) - 1
        nodes: dict[int, int] = {}

        def value(op: Operand | None) -> int:
            if op is None:
                return 0
            if isinstance(op, PartialProduct):
                bit = (acts[op.term] >> op.act_bit) & (weights[op.term] & wmask) >> op.weight_bit & 1
                return bit ^ op.inverted
            if isinstance(op, BiasBit):
                return (int(bias_en) & ((bias & wmask) >> op.bit)) & 1 ^ op.inverted
            if isinstance(op, One):
                return 1
            return nodes[op.index]

        for fa in self.adders:
            a, b, c = (value(x) for x in fa.inputs)
            nodes[fa.sum_node] = a ^ b ^ c
            nodes[fa.sum_node + 1] = (a & b) | (a & c) | (b & c)
        rows = zip(self.row_a, self.row_b, strict=True)
        total = sum((value(a) + value(b)) << col for col, (a, b) in enumerate(rows))
        total %= 1 << shape.acc_bits
        return total - (1 << shape.acc_bits) if total >> (shape.acc_bits - 1) else total


def _operands(shape: DotShape) -> tuple[list[list[Operand]], int]:
    """The bits entering each column, and the constant the inverted sign bits call for."""
    columns: list[list[Operand]] = [[] for _ in range(shape.acc_bits)]
    constant = 0
    sign = shape.weight_bits - 1
    for term in (i for i in range(shape.n) if shape.used[i]):
        for j in range(shape.weight_bits):
            for k in range(shape.act_bits):
                if j + k < shape.acc_bits:
                    columns[j + k].append(PartialProduct(term, k, j, j == sign))
                    constant -= (1 << (j + k)) if j == sign else 0
    for j in range(shape.weight_bits):
        col = shape.bias_shift + j
        if col < shape.acc_bits:
            columns[col].append(BiasBit(j, j == sign))
            constant -= (1 << col) if j == sign else 0
    return columns, constant % (1 << shape.acc_bits)


def build_tree(shape: DotShape) -> DotTree:
    if len(shape.used) != shape.n:
        raise ValueError(f"dot product: {len(shape.used)} Used bits for {shape.n} terms")
    columns, constant = _operands(shape)
    for col in range(shape.acc_bits):
        if constant >> col & 1:
            columns[col].append(One())
    order = itertools.count()
    # per column: (arrival level, insertion order, operand); the order makes ties deterministic
    heaps: list[list[tuple[int, int, Operand]]] = [[(0, next(order), op) for op in col] for col in columns]
    adders: list[FullAdder] = []
    depth = 0
    for col, heap in enumerate(heaps):
        heapq.heapify(heap)
        while len(heap) > 2:
            picked = [heapq.heappop(heap) for _ in range(3)]
            level = max(p[0] for p in picked) + 1
            depth = max(depth, level)
            node = 2 * len(adders)
            adders.append(FullAdder((picked[0][2], picked[1][2], picked[2][2]), node))
            heapq.heappush(heap, (level, next(order), Node(node)))
            if col + 1 < shape.acc_bits:
                heapq.heappush(heaps[col + 1], (level, next(order), Node(node + 1)))
    rows = [sorted(heap) for heap in heaps]
    row_a = tuple(r[0][2] if len(r) > 0 else None for r in rows)
    row_b = tuple(r[1][2] if len(r) > 1 else None for r in rows)
    return DotTree(shape, tuple(adders), row_a, row_b, depth)


# -- rendering: SystemVerilog expressions ---------------------------------------------------


def operand_text(op: Operand | None, shape: DotShape) -> str:
    if op is None:
        return "1'b0"
    if isinstance(op, PartialProduct):
        text = (f"act_i[{op.term * shape.act_bits + op.act_bit}] & "
                f"weight_i[{op.term * shape.weight_bits + op.weight_bit}]")
        return f"~({text})" if op.inverted else f"({text})"
    if isinstance(op, BiasBit):
        text = f"bias_en_i & bias_i[{op.bit}]"
        return f"~({text})" if op.inverted else f"({text})"
    if isinstance(op, One):
        return "1'b1"
    return f"node[{op.index}]"


@dataclass(frozen=True)
class RenderedTree:
    """What the `ae_dot` template prints for one parameter set."""

    label: str
    condition: str
    n_nodes: int
    adders: list[str]
    row_a: list[str]
    row_b: list[str]
    summary: str


def render_tree(tree: DotTree, label: str) -> RenderedTree:
    shape = tree.shape
    condition = (f"N == {shape.n} && Used == N'({shape.used_literal()}) && ActBits == {shape.act_bits} && "
                 f"WeightBits == {shape.weight_bits} && AccBits == {shape.acc_bits} && "
                 f"BiasShift == {shape.bias_shift}")
    adders = [f"assign node[{fa.sum_node + 1}:{fa.sum_node}] = fa("
              + ", ".join(operand_text(x, shape) for x in fa.inputs) + ");" for fa in tree.adders]
    used = sum(shape.used)
    summary = (f"{used} of {shape.n} terms, {shape.act_bits}-bit unsigned x {shape.weight_bits}-bit signed "
               f"into {shape.acc_bits} bits: {len(tree.adders)} full adders, {tree.depth} deep")
    return RenderedTree(label, condition, max(1, tree.n_nodes), adders,
                        [operand_text(op, shape) for op in tree.row_a],
                        [operand_text(op, shape) for op in tree.row_b], summary)
