import numpy as np
import pytest

from asicgen.core.arch import EncoderArch
from asicgen.core.raw import ConfigError


def test_default_and_8x8_architectures_have_the_spec_weight_counts():
    default = EncoderArch.preset("default")
    assert (default.n_conv_params, default.n_dense_params, default.n_weights) == (224, 2064, 2288)
    assert default.n_weights * default.weight_bits == 13_728
    small = EncoderArch.preset("8x8")
    assert small.input_shape == (8, 8, 1) and small.conv_output_shape == (4, 4, 8)
    assert small.n_weights == 2144


def test_architecture_descriptions_are_strict():
    arch = EncoderArch.from_raw({"preset": "8x8", "dense_units": 12}, "cfg.architecture")
    assert arch.layout == "8x8" and arch.dense_units == 12 and arch.conv_stride == 2
    with pytest.raises(ConfigError, match=r"cfg.architecture: unknown key\(s\) filters"):
        EncoderArch.from_raw({"filters": 4}, "cfg.architecture")
    with pytest.raises(ConfigError, match=r"conv_kernel: must be odd"):
        EncoderArch.from_raw({"conv_kernel": 2})
    with pytest.raises(ConfigError, match=r"conv_stride: 3 does not divide"):
        EncoderArch.from_raw({"conv_stride": 3})


@pytest.mark.parametrize("preset", ["default", "8x8"])
def test_qkeras_encoder_matches_the_architecture(preset):
    from training.model import build_autoencoder, build_encoder, sum_feature

    arch = EncoderArch.preset(preset)
    encoder = build_encoder(arch)
    assert encoder.count_params() == arch.n_weights
    assert encoder.output_shape == (None, arch.dense_units)
    rng = np.random.default_rng(0)
    images = rng.random((4,) + arch.input_shape)
    autoencoder, _, decoder = build_autoencoder(arch, output_bits=5)
    out = autoencoder.predict([images, sum_feature(rng.integers(0, 512, 4))], verbose=0)
    assert out.shape == (4, 48)
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-5)
    assert [tuple(i.shape) for i in decoder.inputs] == [(None, arch.dense_units), (None, 1)]
    plain, _, plain_decoder = build_autoencoder(arch, output_bits=5, sum_input=False)
    assert plain.predict(images, verbose=0).shape == (4, 48)
    assert len(plain_decoder.inputs) == 1


def test_sum_feature_is_the_scaled_nine_bit_code():
    from training.model import sum_feature

    feature = sum_feature(np.array([0, 1, 511]))
    assert feature.shape == (3, 1) and feature.dtype == np.float32
    assert feature[:, 0].tolist() == [0.0, 1 / 512, 511 / 512]


def test_elink_truncation_keeps_msbs_and_passes_gradients():
    import tensorflow as tf

    from training.model import ElinkTruncation

    layer = ElinkTruncation(3)
    x = tf.constant([[0.0, 0.49, 0.5, 1.2, 1.99609375]])
    # 3 bits with 1 integer bit: steps of 0.25, saturating at 1.75
    assert layer(x).numpy().tolist() == [[0.0, 0.25, 0.5, 1.0, 1.75]]
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(layer(x))
    assert np.all(tape.gradient(y, x).numpy() == 1.0)


def test_integer_weights_are_on_the_quantiser_grid():
    from training.model import build_encoder
    from training.qkeras_import import quantised_integer_weights

    arch = EncoderArch.preset("default")
    encoder = build_encoder(arch)
    conv = encoder.get_layer("conv")
    kernel, bias = conv.get_weights()
    kernel[0, 0, 0, 0] = 0.3  # 9.6 / 32 -> 10
    kernel[0, 0, 0, 1] = 5.0  # saturates at 31
    kernel[0, 0, 0, 2] = -5.0  # saturates at -32
    kernel[0, 0, 0, 3] = 2.5 / 32  # a tie: rounds half to even -> 2
    conv.set_weights([kernel, bias])
    ints = quantised_integer_weights(encoder, arch)
    assert list(ints) == ["conv_kernel", "conv_bias", "dense_kernel", "dense_bias"]
    assert ints["conv_kernel"].shape == (3, 3, 3, 8) and ints["dense_kernel"].shape == (128, 16)
    assert ints["conv_kernel"][0, 0, 0, :4].tolist() == [10, 31, -32, 2]
    assert sum(v.size for v in ints.values()) == 2288
    assert all(v.min() >= -32 and v.max() <= 31 for v in ints.values())
