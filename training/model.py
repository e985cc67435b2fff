"""The QKeras encoder of SPEC section 4, a float decoder, and the autoencoder.

The encoder takes the converter's 8-bit inputs in image layout and produces the
16 quantised outputs. For training, the outputs pass through the e-link
truncation (floor to b bits, straight-through gradient) before the decoder, so
the decoder learns from exactly what the links carry. The decoder (float, runs
off-detector) is a dense network ending in a softmax over the 48 TCs (CALQ
order): a unit-sum module.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu
from tensorflow import keras

from asicgen.core.arch import EncoderArch
from asicgen.core.geometry import N_TC, layout_by_name

# saving an uncompiled model logs a warning per file that says nothing useful here
tf.get_logger().setLevel("ERROR")

ENCODER_NAME = "encoder"
CONV_LAYER = "conv"
DENSE_LAYER = "dense"


def weight_quantizer(arch: EncoderArch) -> quantized_bits:
    return quantized_bits(arch.weight_bits, 0, alpha=1)


def build_encoder(arch: EncoderArch) -> keras.Model:
    wq = weight_quantizer(arch)
    inputs = keras.Input(shape=arch.input_shape, name="tc_image")
    x = QConv2D(arch.conv_filters, arch.conv_kernel, strides=arch.conv_stride, padding="same",
                kernel_quantizer=wq, bias_quantizer=wq, name=CONV_LAYER)(inputs)
    x = QActivation(quantized_relu(arch.conv_act_bits, 1), name="conv_relu")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = QDense(arch.dense_units, kernel_quantizer=wq, bias_quantizer=wq, name=DENSE_LAYER)(x)
    outputs = QActivation(quantized_relu(arch.output_bits, 1), name="latent")(x)
    return keras.Model(inputs, outputs, name=ENCODER_NAME)


class ElinkTruncation(keras.layers.Layer):
    """Keep `bits` MSBs of each output: floor(x 2^(b-1)) / 2^(b-1), saturating at
    2 - 2^-(b-1) (SPEC section 6). Gradient passes straight through."""

    def __init__(self, bits: int, **kwargs):
        super().__init__(**kwargs)
        self.bits = bits

    def call(self, x):
        step = 2.0 ** (self.bits - 1)
        top = 2.0 - 1.0 / step
        truncated = tf.minimum(tf.floor(x * step) / step, top)
        return x + tf.stop_gradient(truncated - x)

    def get_config(self):
        return {**super().get_config(), "bits": self.bits}


DECODER_HIDDEN = (512, 512)
#: the 9-bit module-sum code (SPEC section 3) the decoder reads beside the latent
SUM_CODE_BITS = 9


def sum_feature(sum_codes: np.ndarray) -> np.ndarray:
    """(N,) 9-bit 5E4M sum codes -> (N, 1) decoder input in [0, 1).

    The code is already logarithmic in the sum, so it is fed as is, scaled."""
    return (np.asarray(sum_codes, dtype=np.float32) / (1 << SUM_CODE_BITS))[:, None]


def build_decoder(arch: EncoderArch, sum_input: bool = True) -> keras.Model:
    """A dense decoder: the latent vector carries no image structure worth a
    transposed convolution, and a wider decoder costs nothing on the detector.

    With `sum_input` the decoder also reads the module-sum code that travels
    with every payload: it tells the decoder the absolute scale of the module,
    hence how much of it is electronics noise and small pile-up deposits that
    the 16 outputs cannot describe one by one."""
    latent = keras.Input(shape=(arch.dense_units,), name="latent_in")
    inputs = [latent]
    x = latent
    if sum_input:
        total = keras.Input(shape=(1,), name="sum_code_in")
        inputs.append(total)
        x = keras.layers.Concatenate(name="dec_with_sum")([latent, total])
    for i, width in enumerate(DECODER_HIDDEN):
        x = keras.layers.Dense(width, activation="relu", name=f"dec_dense{i}")(x)
    logits = keras.layers.Dense(N_TC, name="dec_calq")(x)
    outputs = keras.layers.Softmax(name="dec_unit_sum")(logits)
    return keras.Model(inputs if sum_input else latent, outputs, name="decoder")


def build_autoencoder(arch: EncoderArch, output_bits: int, sum_input: bool = True
                      ) -> tuple[keras.Model, keras.Model, keras.Model]:
    """(autoencoder, encoder, decoder); the autoencoder truncates to `output_bits`.

    With `sum_input` the autoencoder's inputs are [image, sum feature]."""
    encoder = build_encoder(arch)
    decoder = build_decoder(arch, sum_input)
    inputs = keras.Input(shape=arch.input_shape, name="ae_in")
    latent = encoder(inputs)
    if output_bits < arch.output_bits:
        latent = ElinkTruncation(output_bits, name="elink_truncation")(latent)
    if sum_input:
        total = keras.Input(shape=(1,), name="ae_sum_code")
        autoencoder = keras.Model([inputs, total], decoder([latent, total]), name="autoencoder")
    else:
        autoencoder = keras.Model(inputs, decoder(latent), name="autoencoder")
    return autoencoder, encoder, decoder


CUSTOM_OBJECTS = {"ElinkTruncation": ElinkTruncation}


def images_from_inputs(inputs: np.ndarray, arch: EncoderArch) -> np.ndarray:
    """(N, 48) converter integers -> float32 images in the architecture's layout."""
    scale = arch.input_type.scale
    layout = layout_by_name(arch.layout)
    return layout.to_image(inputs.astype(np.float32) / scale)
