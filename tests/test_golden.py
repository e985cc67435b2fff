"""The bit-exact Python model against QKeras, and its arithmetic on hand-checked values."""

import numpy as np
import pytest

from asicgen.core import golden
from asicgen.core.arch import EncoderArch, FixedType
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet
from verif.vectors import standard_vectors, tie_weights

#: modules per region preset; with the corner cases in every mode, each
#: (architecture, weights) case is ~36,000 modules, each architecture over 100,000
PER_REGION = 4500


def test_round_half_even_shift_on_hand_values():
    values = np.array([16, 48, 80, -16, -48, 17, 15, -17, 0, 32])
    # /32: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2, ~0.53 -> 1, ~0.47 -> 0, ~-0.53 -> -1
    assert golden.round_half_even_shift(values, 5).tolist() == [0, 2, 2, 0, -2, 1, 0, -1, 0, 1]


def test_requantise_rounds_then_saturates():
    acc = FixedType(19, 7, signed=True)
    act = FixedType(8, 1, signed=False, rounding="convergent", overflow="saturate")
    # acc codes have 12 fraction bits, act codes 7: divide by 32
    codes = np.array([-5000, 16, 48, 255 * 32, 255 * 32 + 16, 256 * 32, 10**5])
    assert golden.requantise(codes, acc, act).tolist() == [0, 0, 2, 255, 255, 255, 255]
    wrap = FixedType(8, 1, signed=False)
    assert golden.requantise(np.array([256 * 32 + 33]), acc, wrap).tolist() == [1]


def test_converter_matches_a_float_reference():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 128, size=(5000, 48)) * (rng.random((5000, 48)) < 0.3)
    codes[0] = 0
    design = Design.build(EncoderArch())
    inputs, sums = golden.convert(design, codes)
    charges = np.where(codes < 8, codes, (8 + (codes & 7)) * 2.0 ** ((codes >> 3) - 1))
    total = charges.sum(axis=1)
    k = np.floor(np.log2(np.maximum(total, 1)))
    expected = np.floor(charges * 128 / 2.0 ** k[:, None])
    assert np.array_equal(inputs, expected.astype(np.int64))
    assert inputs.max() < 256 and not inputs[0].any() and sums[0] == 0
    e = np.floor(np.log2(np.maximum(total, 1))) + 1 - 4
    expected_sum = np.where(total < 16, total, e * 16 + np.floor(total / 2.0 ** (e - 1)) % 16)
    assert np.array_equal(sums, expected_sum.astype(np.int64))


def test_elink_truncation_keeps_the_top_bits():
    design = Design.build(EncoderArch())
    latent = np.array([[0b101101101, 0b111111111, 0b000000001]])
    got = {e: golden.elink_truncate(design, latent, e)[0].tolist() for e in (2, 3, 4, 5)}
    assert got[2] == [0b101000000, 0b111000000, 0]
    assert got[3] == [0b101100000, 0b111110000, 0]
    assert got[4] == [0b101101100, 0b111111100, 0]
    assert got[5] == [0b101101101, 0b111111111, 1]
    with pytest.raises(ValueError, match="e-link mode 6"):
        golden.elink_truncate(design, latent, 6)


# -- QKeras == Python model ----------------------------------------------------------------


def _encoder_with(arch: EncoderArch, weights: WeightSet):
    from training.model import build_encoder
    from training.qkeras_import import set_qkeras_weights

    encoder = build_encoder(arch)
    set_qkeras_weights(encoder, weights)
    return encoder


def _weights(kind: str, design: Design, trained_networks, arch_name: str) -> WeightSet:
    if kind == "random":
        return WeightSet.random(design, np.random.default_rng(5))
    if kind == "ties":
        return tie_weights(design, 6)
    from asicgen.sources import load_network

    return load_network(trained_networks[arch_name]).weights


@pytest.mark.slow
@pytest.mark.parametrize("arch_name", ["default", "8x8"])
@pytest.mark.parametrize("kind", ["random", "ties", "trained"])
def test_qkeras_predict_equals_the_python_model(arch_name, kind, trained_networks):
    import tensorflow as tf

    from training.model import ElinkTruncation, images_from_inputs

    arch = EncoderArch.preset(arch_name)
    design = Design.build(arch)
    weights = _weights(kind, design, trained_networks, arch_name)
    encoder = _encoder_with(arch, weights)
    vectors = standard_vectors(design, PER_REGION, seed=21)
    assert len(vectors) > 34000

    model = golden.run(design, weights, vectors.codes, vectors.elinks)
    inputs, _ = golden.convert(design, vectors.codes)
    images = images_from_inputs(inputs, arch)
    latent = encoder.predict(images, batch_size=8192, verbose=0)
    codes = latent * design.output_type.scale
    assert np.array_equal(codes, np.rint(codes)), "QKeras output off the output grid"
    mismatched = np.flatnonzero(np.any(codes.astype(np.int64) != model.latent, axis=1))
    assert mismatched.size == 0, f"{mismatched.size} modules differ, first {mismatched[:5]}"

    # the e-link truncation as the training graph applies it
    for mode in design.elink_modes:
        rows = vectors.elinks == mode.elinks
        truncated = ElinkTruncation(mode.kept_bits)(tf.constant(latent[rows])).numpy()
        assert np.array_equal(np.rint(truncated * design.output_type.scale).astype(np.int64),
                              model.out[rows]), f"{mode.elinks} e-links"

    if kind == "random":
        assert np.mean(model.latent == design.output_type.max_code) > 0.01, "no saturated outputs"
    if kind == "ties":
        # the convolution's pre-activation sums land exactly on a rounding tie
        from training.model import CONV_LAYER, keras

        pre = keras.Model(encoder.input, encoder.get_layer(CONV_LAYER).output).predict(
            images[:5000], batch_size=5000, verbose=0)
        half_steps = pre * design.conv.output_type.scale * 2
        ties = np.mean((np.rint(half_steps) % 2 == 1) & (pre > 0))
        assert ties > 0.01, f"only {ties:.4f} of the activations are rounding ties"
