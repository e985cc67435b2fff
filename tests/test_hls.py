"""The HLS back end: C simulation against the Python model, determinism, stamps, hls4ml."""

import numpy as np
import pytest

from asicgen.core import golden
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet
from asicgen.csim import run_csim
from asicgen.hls import generate_hls
from verif.vectors import VectorSet, standard_vectors, tie_weights

DESIGN = Design.build(EncoderArch())


@pytest.fixture(scope="module")
def many_vectors():
    """Over 100,000 modules: 4 x 22,000 of the region presets plus the corner cases."""
    vectors = standard_vectors(DESIGN, per_region=22000, seed=31)
    assert len(vectors) > 100_000
    return vectors


@pytest.mark.slow
@pytest.mark.parametrize("ii", [1, 2, 4, 8])
def test_csim_equals_the_python_model_for_every_ii(ii, many_vectors, trained_networks, tmp_path):
    from asicgen.sources import load_network

    weights = load_network(trained_networks["default"], ii).weights
    generate_hls(tmp_path / "hls", weights, "test")
    result = run_csim(tmp_path / "hls", many_vectors)
    assert result.modules == len(many_vectors)
    assert result.mismatches == 0, result.first_mismatches
    # random and tie-heavy weights too, on a smaller set
    design = DESIGN.with_ii(ii)
    small = standard_vectors(design, per_region=500, seed=ii)
    for other in (WeightSet.random(design, np.random.default_rng(ii)), tie_weights(design, ii)):
        generate_hls(tmp_path / "other", other, "test")
        result = run_csim(tmp_path / "other", small)
        assert result.mismatches == 0, result.first_mismatches


@pytest.mark.slow
def test_csim_of_the_8x8_architecture(tmp_path):
    design = Design.build(EncoderArch.preset("8x8"), 2)
    weights = WeightSet.random(design, np.random.default_rng(8))
    generate_hls(tmp_path / "hls", weights, "test")
    result = run_csim(tmp_path / "hls", standard_vectors(design, per_region=2000))
    assert result.mismatches == 0, result.first_mismatches


@pytest.mark.slow
def test_csim_detects_a_wrong_rounding_mode(tmp_path):
    """The checker can fail: truncating instead of rounding must show as mismatches."""
    weights = tie_weights(DESIGN, 3)
    generate_hls(tmp_path / "hls", weights, "test")
    types = tmp_path / "hls" / "src" / "ae_types.h"
    types.write_text(types.read_text().replace("AC_RND_CONV", "AC_TRN"))
    result = run_csim(tmp_path / "hls", standard_vectors(DESIGN, per_region=200))
    assert result.mismatches > 0 and result.first_mismatches


def test_generation_is_deterministic_and_stamped(tmp_path):
    weights = WeightSet.random(DESIGN, np.random.default_rng(4))
    vectors = standard_vectors(DESIGN, per_region=20)
    generate_hls(tmp_path / "a", weights, "asicgen hls x --out a", vectors)
    generate_hls(tmp_path / "b", weights, "asicgen hls x --out a", vectors)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert {str(f) for f in files} >= {"src/ae_top.cpp", "src/ae_encoder.h", "src/ae_converter.h",
                                        "tb/tb_ae_top.cpp", "directives.tcl", "manifest.json"}
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    for f in ("src/ae_top.cpp", "src/ae_types.h", "directives.tcl", "data/weights.hex"):
        head = (tmp_path / "a" / f).read_text().splitlines()[:4]
        assert "do not edit" in head[0] and "Inputs sha256:" in head[2]
        assert head[3].endswith("asicgen hls x --out a")


@pytest.mark.parametrize("ii", [1, 2, 4, 8])
def test_pragmas_and_directives_carry_the_ii(ii, tmp_path):
    weights = WeightSet.random(DESIGN.with_ii(ii), np.random.default_rng(0))
    generate_hls(tmp_path, weights, "test", standard_vectors(DESIGN, per_region=5))
    encoder = (tmp_path / "src" / "ae_encoder.h").read_text()
    assert f"#pragma hls_pipeline_init_interval {ii}\n" in encoder
    assert "#pragma hls_design\n" in encoder
    assert f"static const int II = {ii};" in (tmp_path / "src" / "ae_types.h").read_text()
    tcl = (tmp_path / "directives.tcl").read_text()
    assert f"set II {ii}" in tcl and "set CLOCK_PERIOD 25.0" in tcl
    assert "solution library add $TECH_LIB" in tcl
    top = (tmp_path / "src" / "ae_top.cpp").read_text()
    assert "#pragma hls_design top" in top and "const ae_weights_t &weights" in top


@pytest.mark.slow
def test_hls4ml_catapult_csim_agrees_with_the_python_model(trained_networks, tmp_path):
    """An independent reference: hls4ml's own C++ for the same QKeras encoder."""
    from asicgen.reference import hls4ml_encode, hls4ml_encoder
    from training.model import images_from_inputs
    from training.qkeras_import import import_qkeras, load_qkeras_model

    model = load_qkeras_model(trained_networks["default"] / "model" / "encoder.h5")
    imported = import_qkeras(model)
    design = imported.design
    vectors = VectorSet.concat([standard_vectors(design, per_region=3000, seed=41)])
    inputs, _ = golden.convert(design, vectors.codes)
    hls_model = hls4ml_encoder(model, design, tmp_path / "hls4ml")
    got = hls4ml_encode(hls_model, design, images_from_inputs(inputs, design.arch))
    want = golden.encode(design, imported.weights, inputs)
    assert np.array_equal(got, want), f"{np.sum(np.any(got != want, axis=1))} modules differ"
