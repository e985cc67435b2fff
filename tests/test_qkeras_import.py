"""Reading QKeras encoders: what is accepted, and the messages for what is not."""

import numpy as np
import pytest
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

from asicgen.core.arch import EncoderArch
from training.model import build_encoder, keras
from training.qkeras_import import UnsupportedModel, design_from_qkeras, import_qkeras

WQ = quantized_bits(6, 0, alpha=1)


def encoder(conv_kwargs=None, dense_kwargs=None, conv_act=None, out_act=None, extra=None,
            shape=(4, 4, 3)):
    conv_kwargs = {"kernel_quantizer": WQ, "bias_quantizer": WQ, "padding": "same", **(conv_kwargs or {})}
    dense_kwargs = {"kernel_quantizer": WQ, "bias_quantizer": WQ, **(dense_kwargs or {})}
    inputs = keras.Input(shape=shape)
    x = QConv2D(8, 3, name="conv", **conv_kwargs)(inputs)
    x = QActivation(conv_act or quantized_relu(8, 1), name="conv_relu")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if extra is not None:
        x = extra(x)
    x = QDense(16, name="dense", **dense_kwargs)(x)
    x = QActivation(out_act or quantized_relu(9, 1), name="latent")(x)
    return keras.Model(inputs, x)


def test_the_project_encoders_import_with_their_architecture():
    for name in ("default", "8x8"):
        arch = EncoderArch.preset(name)
        model = build_encoder(arch)
        imported = import_qkeras(model, ii=2)
        assert imported.design.arch == arch and imported.design.ii == 2
        assert imported.weights.words().size == arch.n_weights


def test_activation_inside_the_layer_is_accepted():
    inputs = keras.Input(shape=(4, 4, 3))
    x = QConv2D(8, 3, padding="same", kernel_quantizer=WQ, bias_quantizer=WQ,
                activation=quantized_relu(8, 1), name="c")(inputs)
    x = keras.layers.Flatten()(x)
    x = QDense(16, kernel_quantizer=WQ, bias_quantizer=WQ, activation=quantized_relu(9, 1), name="d")(x)
    assert design_from_qkeras(keras.Model(inputs, x)).arch == EncoderArch()


def test_weights_are_read_on_the_quantiser_grid():
    model = encoder()
    conv = model.get_layer("conv")
    kernel, bias = conv.get_weights()
    kernel[:] = 0.3  # 0.3 * 32 = 9.6 -> code 10
    bias[:] = -2.0  # saturates at -1 -> code -32
    conv.set_weights([kernel, bias])
    weights = import_qkeras(model).weights
    assert np.all(weights["conv_kernel"] == 10) and np.all(weights["conv_bias"] == -32)


@pytest.mark.parametrize(("model_kwargs", "message"), [
    ({"conv_kwargs": {"kernel_quantizer": quantized_bits(6, 0, alpha="auto_po2")}},
     r"layer 'conv' \(QConv2D\) kernel quantizer: alpha='auto_po2'"),
    ({"dense_kwargs": {"bias_quantizer": quantized_bits(6, 0, alpha=1, use_stochastic_rounding=True)}},
     r"layer 'dense' \(QDense\) bias quantizer: stochastic rounding"),
    ({"conv_act": quantized_relu(8, 1, use_stochastic_rounding=True)},
     r"layer 'conv_relu' activation: stochastic rounding"),
    ({"conv_kwargs": {"padding": "valid"}}, r"layer 'conv' \(QConv2D\): padding 'valid'"),
    ({"out_act": quantized_relu(9, 0)}, r"layer 'latent' activation: quantized_relu integer=0"),
    ({"conv_act": quantized_relu(8, 1, negative_slope=0.25)}, r"only a plain quantized_relu"),
    ({"dense_kwargs": {"kernel_quantizer": quantized_bits(8, 0, alpha=1)}},
     r"one register word width; the model mixes .*dense.kernel: 8 bits"),
    ({"dense_kwargs": {"kernel_quantizer": quantized_bits(6, 2, alpha=1)}},
     r"only quantized_bits\(bits, 0, alpha=1\)"),
    ({"extra": keras.layers.Dropout(0.1, name="drop")},
     r"layer 'drop': Dropout is not supported here \(expected QDense"),
    ({"shape": (4, 4, 2)}, r"input shape \(4, 4, 2\) is not a supported layout"),
    ({"dense_kwargs": {"use_bias": False}}, r"layer 'dense' \(QDense\): use_bias=False"),
])
def test_unsupported_models_are_refused_naming_layer_and_reason(model_kwargs, message):
    with pytest.raises(UnsupportedModel, match=message):
        design_from_qkeras(encoder(**model_kwargs))


def test_plain_keras_layers_are_refused():
    inputs = keras.Input(shape=(4, 4, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="plain_conv")(inputs)
    with pytest.raises(UnsupportedModel, match=r"layer 'plain_conv': Conv2D is not supported"):
        design_from_qkeras(keras.Model(inputs, x))


def test_weight_quantizer_missing_is_refused():
    with pytest.raises(UnsupportedModel, match=r"layer 'conv' \(QConv2D\) kernel quantizer: missing"):
        design_from_qkeras(encoder(conv_kwargs={"kernel_quantizer": None}))
