"""Bulk mode: the HDL testbench streams a vector file through the RTL and checks every output."""

import numpy as np
import pytest

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet
from asicgen.rtl import generate_rtl
from verif.bulk import build_bulk, run_bulk
from verif.vectors import VectorSet, expected_words, standard_vectors


@pytest.mark.slow
def test_bulk_mode_is_bit_exact_in_every_shard_and_its_checker_can_fail(tmp_path):
    design = Design.build(EncoderArch(conv_filters=2, dense_units=4), 1)
    weights = WeightSet.random(design, np.random.default_rng(3))
    generate_rtl(tmp_path / "rtl", design, "test")
    binary, _, _ = build_bulk(design, tmp_path / "rtl", tmp_path / "build", optimise=False)
    mixed = standard_vectors(design, per_region=200, seed=5, random_rows=300)
    for mode in sorted({m.elinks for m in design.elink_modes}):
        vectors = VectorSet(mixed.codes, np.full(len(mixed), mode), mixed.sources)
        result = run_bulk(binary, weights, vectors, tmp_path, shards=3)
        assert (result.modules, result.checked, result.shards) == (len(mixed), len(mixed), 3)
        assert result.mismatches == 0

    # one wrong expected word, in the middle of the second shard: exactly one mismatch
    expected = expected_words(design, weights, vectors.codes, mode)
    expected[len(expected) // 2] ^= 1
    result = run_bulk(binary, weights, vectors, tmp_path, shards=3, expected=expected)
    assert result.checked == len(mixed) and result.mismatches == 1
