"""Read a QKeras encoder into a `Design` and a `WeightSet`, or refuse it.

Accepted: Input -> QConv2D ('same', square kernel, equal strides) -> QActivation
(quantized_relu) -> Flatten -> QDense -> QActivation(quantized_relu); a
quantized_relu may also be the QConv2D/QDense `activation`. Weights and biases
use one `quantized_bits(bits, 0, alpha=1)`. Anything the hardware would not
compute exactly the same way is refused with the layer name and the reason.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.geometry import layout_by_name
from asicgen.core.raw import ConfigError
from asicgen.core.weights import WeightSet

LAYOUT_OF_SHAPE = {layout_by_name(name).shape: name for name in ("4x4x3", "8x8")}


class UnsupportedModel(ConfigError):
    """The QKeras model uses something the generated hardware cannot compute exactly."""


@dataclass(frozen=True)
class ImportedModel:
    design: Design
    weights: WeightSet


def load_qkeras_model(path: Path):
    from qkeras.utils import load_qmodel

    from training.model import CUSTOM_OBJECTS

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such model file")
    try:
        with warnings.catch_warnings():
            # Keras complains about QKeras quantisers in the saved config; they load correctly
            warnings.simplefilter("ignore", UserWarning)
            return load_qmodel(str(path), custom_objects=CUSTOM_OBJECTS, compile=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot load as a QKeras model: {exc}") from None


def _class(obj: Any) -> str:
    return type(obj).__name__


def _weight_bits(layer, role: str) -> int:
    quantizer = getattr(layer, f"{role}_quantizer_internal", None)
    where = f"layer {layer.name!r} ({_class(layer)}) {role} quantizer"
    if quantizer is None:
        raise UnsupportedModel(f"{where}: missing; the hardware needs quantized_bits weights")
    if _class(quantizer) != "quantized_bits":
        raise UnsupportedModel(f"{where}: {_class(quantizer)} is not supported (use quantized_bits)")
    cfg = quantizer.get_config()
    if cfg["alpha"] not in (1, 1.0):
        raise UnsupportedModel(f"{where}: alpha={cfg['alpha']!r}; only alpha=1 maps to fixed-point "
                               "hardware without a per-channel scale")
    if cfg["use_stochastic_rounding"]:
        raise UnsupportedModel(f"{where}: stochastic rounding cannot be reproduced in hardware")
    if cfg["integer"] != 0 or not cfg["keep_negative"] or cfg["symmetric"]:
        raise UnsupportedModel(f"{where}: only quantized_bits(bits, 0, alpha=1) (signed, not symmetric) "
                               f"is supported, got integer={cfg['integer']}, keep_negative="
                               f"{cfg['keep_negative']}, symmetric={cfg['symmetric']}")
    return int(cfg["bits"])


def _relu_bits(quantizer, owner: str) -> int:
    where = f"layer {owner!r} activation"
    if _class(quantizer) != "quantized_relu":
        raise UnsupportedModel(f"{where}: {_class(quantizer)} is not supported (use quantized_relu)")
    cfg = quantizer.get_config()
    if cfg["use_stochastic_rounding"]:
        raise UnsupportedModel(f"{where}: stochastic rounding cannot be reproduced in hardware")
    if cfg["negative_slope"] or cfg["use_sigmoid"] or cfg["relu_upper_bound"] is not None:
        raise UnsupportedModel(f"{where}: only a plain quantized_relu(bits, 1) is supported")
    if cfg["integer"] != 1:
        raise UnsupportedModel(f"{where}: quantized_relu integer={cfg['integer']}; the hardware types "
                               "have one integer bit (quantized_relu(bits, 1))")
    return int(cfg["bits"])


def _layer_activation(layer) -> Any | None:
    """The quantiser of a QConv2D/QDense's own activation, or None when it is linear."""
    activation = getattr(layer, "activation", None)
    if activation is None or getattr(activation, "__name__", "") == "linear":
        return None
    return activation


def _check_conv(layer) -> tuple[int, int]:
    cfg = layer.get_config()
    where = f"layer {layer.name!r} (QConv2D)"
    kernel, stride = tuple(cfg["kernel_size"]), tuple(cfg["strides"])
    if kernel[0] != kernel[1]:
        raise UnsupportedModel(f"{where}: kernel {kernel} is not square")
    if stride[0] != stride[1]:
        raise UnsupportedModel(f"{where}: strides {stride} differ")
    if cfg["padding"] != "same":
        raise UnsupportedModel(f"{where}: padding {cfg['padding']!r}; only 'same' is supported")
    if tuple(cfg["dilation_rate"]) != (1, 1) or cfg.get("groups", 1) != 1:
        raise UnsupportedModel(f"{where}: dilation and grouped convolutions are not supported")
    if cfg["data_format"] not in (None, "channels_last"):
        raise UnsupportedModel(f"{where}: data_format {cfg['data_format']!r}; use channels_last")
    if not cfg["use_bias"]:
        raise UnsupportedModel(f"{where}: the register map holds a bias per filter; use_bias=False "
                               "is not supported")
    return kernel[0], stride[0]


def design_from_qkeras(model, ii: int = 1, input_bits: int | None = None) -> Design:
    """Build the `Design` of a QKeras encoder (see the module docstring for what is accepted)."""
    layers = [layer for layer in model.layers if _class(layer) != "InputLayer"]
    shape = tuple(model.input_shape[1:])
    if shape not in LAYOUT_OF_SHAPE:
        raise UnsupportedModel(f"model input shape {shape} is not a supported layout "
                               f"({', '.join(f'{s} ({n})' for s, n in LAYOUT_OF_SHAPE.items())})")
    stages = _split_stages(layers)
    conv, conv_act, dense, out_act = stages
    kernel, stride = _check_conv(conv)
    if not dense.get_config()["use_bias"]:
        raise UnsupportedModel(f"layer {dense.name!r} (QDense): use_bias=False is not supported")
    widths = {f"{layer.name}.{role}": _weight_bits(layer, role)
              for layer in (conv, dense) for role in ("kernel", "bias")}
    if len(set(widths.values())) != 1:
        raise UnsupportedModel("all weights share one register word width; the model mixes "
                               + ", ".join(f"{k}: {v} bits" for k, v in widths.items()))
    arch = EncoderArch(
        layout=LAYOUT_OF_SHAPE[shape], conv_filters=int(conv.get_config()["filters"]),
        conv_kernel=kernel, conv_stride=stride, dense_units=int(dense.get_config()["units"]),
        weight_bits=next(iter(widths.values())),
        input_bits=input_bits if input_bits is not None else EncoderArch().input_bits,
        conv_act_bits=_relu_bits(conv_act[1], conv_act[0]),
        output_bits=_relu_bits(out_act[1], out_act[0]))
    return Design.build(arch, ii, where=f"model {model.name!r}")


def _split_stages(layers: list) -> tuple:
    """(conv, (owner, relu quantizer), dense, (owner, relu quantizer)), or refuse."""
    expected = "QConv2D -> QActivation(quantized_relu) -> Flatten -> QDense -> QActivation(quantized_relu)"
    found: list = []
    pending = list(layers)

    def take(kinds: tuple[str, ...]):
        if not pending:
            raise UnsupportedModel(f"the model ends early; expected {expected}")
        layer = pending.pop(0)
        if _class(layer) not in kinds:
            raise UnsupportedModel(f"layer {layer.name!r}: {_class(layer)} is not supported here "
                                   f"(expected {' or '.join(kinds)}; the encoder must be {expected})")
        return layer

    for weighted, flatten_after in (("QConv2D", True), ("QDense", False)):
        layer = take((weighted,))
        own = _layer_activation(layer)
        if own is not None:
            found += [layer, (layer.name, own)]
        else:
            act = take(("QActivation",))
            found += [layer, (act.name, act.quantizer)]
        if flatten_after:
            take(("Flatten",))
    if pending:
        raise UnsupportedModel(f"layer {pending[0].name!r}: {_class(pending[0])} after the encoder "
                               f"output is not supported (the encoder must be {expected})")
    return tuple(found)


def weights_from_qkeras(model, design: Design) -> WeightSet:
    """The model's weights on the quantiser grid, as integer codes."""
    import tensorflow as tf

    conv = next(layer for layer in model.layers if _class(layer) == "QConv2D")
    dense = next(layer for layer in model.layers if _class(layer) == "QDense")
    arrays = {}
    for layer, prefix in ((conv, "conv"), (dense, "dense")):
        kernel, bias = layer.get_weights()
        for role, value in (("kernel", kernel), ("bias", bias)):
            quantizer = getattr(layer, f"{role}_quantizer_internal")
            quantised = np.asarray(quantizer(tf.constant(value, dtype=tf.float32)), dtype=np.float64)
            codes = quantised * getattr(design, prefix).weight_type.scale
            arrays[f"{prefix}_{role}"] = np.rint(codes).astype(np.int64)
            if not np.array_equal(arrays[f"{prefix}_{role}"], codes):
                raise UnsupportedModel(f"layer {layer.name!r} {role}: quantised values are off the "
                                       f"{design.weight_bits}-bit grid")
    return WeightSet.from_arrays(design, arrays, where=f"model {model.name!r}")


def import_qkeras(model, ii: int = 1) -> ImportedModel:
    design = design_from_qkeras(model, ii)
    return ImportedModel(design, weights_from_qkeras(model, design))


def set_qkeras_weights(model, weights: WeightSet) -> None:
    """Load integer weights (e.g. unpacked from an image) into a QKeras encoder."""
    conv = next(layer for layer in model.layers if _class(layer) == "QConv2D")
    dense = next(layer for layer in model.layers if _class(layer) == "QDense")
    design = weights.design
    for layer, stage in ((conv, design.conv), (dense, design.dense)):
        scale = stage.weight_type.scale
        layer.set_weights([weights[stage.kernel_tensor.name] / scale,
                           weights[stage.bias_tensor.name] / scale])


def quantised_integer_weights(encoder: Any, arch: EncoderArch) -> dict[str, np.ndarray]:
    """The encoder's weights on the quantiser grid, as integers (value * 2^frac).

    Order: conv kernel, conv bias, dense kernel, dense bias (SPEC section 8).
    """
    weights = weights_from_qkeras(encoder, Design.build(arch))
    return {name: np.array(values) for name, values in weights.tensors.items()}
