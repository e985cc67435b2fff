"""hls4ml's Catapult back end as an independent reference for the bit-exact model.

hls4ml converts the same QKeras encoder into its own C++ (ac_fixed types) and
compiles it with g++; no Catapult licence is needed for `compile`/`predict`.
The number types are set from the `Design`, so both sides compute with the
same widths; agreement is then a statement about rounding and saturation.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from asicgen.core.design import Design


def hls4ml_config(model, design: Design) -> dict:
    import hls4ml

    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Catapult")
    layers = config["LayerName"]
    inp = design.converter.output_type
    layers[model.layers[0].name]["Precision"]["result"] = f"ufixed<{inp.bits},{inp.integer_bits}>"
    for layer in model.layers:
        kind = type(layer).__name__
        stage = design.conv if kind == "QConv2D" else design.dense if kind == "QDense" else None
        if stage is None:
            continue
        acc = f"fixed<{stage.acc_type.bits},{stage.acc_type.integer_bits}>"
        layers[layer.name]["Precision"].update({"accum": acc, "result": acc})
        linear = f"{layer.name}_linear"
        if linear in layers:
            layers[linear]["Precision"]["result"] = acc
    return config


def hls4ml_encoder(model, design: Design, workdir: Path):
    """Convert and compile `model` with hls4ml's Catapult back end (C simulation)."""
    import hls4ml

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hls_model = hls4ml.converters.convert_from_keras_model(
            model, hls_config=hls4ml_config(model, design), backend="Catapult", io_type="io_parallel",
            output_dir=str(workdir), project_name="ae_hls4ml")
        hls_model.compile()
    return hls_model


def hls4ml_encode(hls_model, design: Design, images: np.ndarray) -> np.ndarray:
    """(N, rows, cols, channels) float images -> (N, 16) output codes."""
    out = np.asarray(hls_model.predict(np.ascontiguousarray(images, dtype=np.float64)))
    codes = out.reshape(len(images), -1) * design.output_type.scale
    return np.rint(codes).astype(np.int64)
