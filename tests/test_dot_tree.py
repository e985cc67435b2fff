"""The carry-save dot products (asicgen.dot_tree): the tree computes the dot product exactly."""

import random

import pytest

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.dot_tree import DotShape, DotTree, FullAdder, One, build_tree, operand_text
from asicgen.rtl import dot_shapes, dot_trees

SMALL = EncoderArch(conv_filters=2, dense_units=4)


def _exact(shape: DotShape, acts, weights, bias, bias_en) -> int:
    return (bias << shape.bias_shift if bias_en else 0) + sum(
        a * w for a, w, used in zip(acts, weights, shape.used, strict=True) if used)


def _vectors(shape: DotShape, count: int, seed: int):
    rng = random.Random(seed)
    lo, hi = -(1 << shape.weight_bits - 1), (1 << shape.weight_bits - 1) - 1
    top = (1 << shape.act_bits) - 1
    # the extremes first: the largest positive and negative sums the accumulator must hold
    yield [top] * shape.n, [lo] * shape.n, lo, True
    yield [top] * shape.n, [hi] * shape.n, hi, True
    yield [0] * shape.n, [0] * shape.n, lo, False
    for _ in range(count):
        yield ([rng.randint(0, top) for _ in range(shape.n)], [rng.randint(lo, hi) for _ in range(shape.n)],
               rng.randint(lo, hi), rng.random() < 0.7)


@pytest.mark.parametrize("arch", [SMALL, EncoderArch.preset("default")], ids=["small", "default"])
@pytest.mark.parametrize("ii", [1, 2, 4, 8])
def test_every_tree_of_the_design_computes_its_dot_product(arch, ii):
    design = Design.build(arch).with_ii(ii)
    for shape in dot_shapes(design):
        tree = build_tree(shape)
        for acts, weights, bias, bias_en in _vectors(shape, 40, seed=ii):
            assert tree.evaluate(acts, weights, bias, bias_en) == _exact(shape, acts, weights, bias, bias_en)


def test_the_tree_needs_one_full_adder_per_bit_it_removes():
    """Each full adder turns three bits into two; the columns end with at most two bits."""
    shape = DotShape(9, (True,) * 9, 8, 6, 19, 7)
    tree = build_tree(shape)
    assert all((a is None) <= (b is None) for a, b in zip(tree.row_a, tree.row_b, strict=True))
    partial_products = 9 * 8 * 6
    assert partial_products - 2 * 19 <= len(tree.adders) <= partial_products + 6 + 19
    assert 5 <= tree.depth <= 12


def test_a_tree_missing_its_sign_constant_is_caught():
    """The check can fail: a tree without the constant the inverted sign bits call for."""
    shape = DotShape(3, (True, True, True), 8, 6, 19, 7)
    tree = build_tree(shape)

    def drop(op):
        return None if isinstance(op, One) else op

    adders = tuple(FullAdder(tuple(drop(x) for x in fa.inputs), fa.sum_node) for fa in tree.adders)
    broken = DotTree(shape, adders,
                     tuple(map(drop, tree.row_a)), tuple(map(drop, tree.row_b)), tree.depth)
    assert sum(isinstance(x, One) for fa in tree.adders for x in fa.inputs) + \
        sum(isinstance(x, One) for x in tree.row_a + tree.row_b) > 0
    acts, weights = [1, 2, 3], [-1, 5, -32]
    assert tree.evaluate(acts, weights, 0, False) == _exact(shape, acts, weights, 0, False)
    assert broken.evaluate(acts, weights, 0, False) != _exact(shape, acts, weights, 0, False)
    assert any("~(" in operand_text(x, shape) for fa in tree.adders for x in fa.inputs)


def test_unused_taps_and_structures():
    design = Design.build(SMALL)
    shapes = dot_shapes(design)
    assert len(shapes) == len(set(shapes)) and shapes[-1].used == (True,) * shapes[-1].n
    assert any(not all(s.used) for s in shapes[:-1]), "corner positions leave padding taps out"
    assert dot_trees(design, "chain") == []
    with pytest.raises(ValueError, match="unknown dot-product structure 'wallace'"):
        dot_trees(design, "wallace")
