"""The HLS back end: a Catapult-style C++ project from the `Design` (jinja2 templates).

The project holds the converter and encoder as `hls_design` blocks, the types
from the description (`ac_fixed`/`ac_int`), the weights as a top-level input,
the `hls_pipeline_init_interval` pragma and TCL directives for the requested
II, a C++ testbench, the weight image and test vectors with the bit-exact
model's expected outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asicgen import __version__
from asicgen.core import golden, naming
from asicgen.core.design import Design
from asicgen.core.geometry import layout_by_name
from asicgen.core.image import hex_text
from asicgen.core.outputs import HLS_KIND
from asicgen.core.render import Stamp, combined_sha256, environment, render, write_tree
from asicgen.core.weights import WeightSet
from verif.vectors import VectorSet, standard_vectors, table_text

DEFAULT_TECH_LIB = "nangate-45nm_beh"
SOURCES = ("src/ae_top.cpp",)
HEADERS = ("src/ae_types.h", "src/ae_converter.h", "src/ae_encoder.h", "src/ae_top.h")
TB_SOURCE = f"tb/{naming.TESTBENCH}.cpp"
TEMPLATES = {
    "src/ae_types.h": "ae_types.h.j2",
    "src/ae_converter.h": "ae_converter.h.j2",
    "src/ae_encoder.h": "ae_encoder.h.j2",
    "src/ae_top.h": "ae_top.h.j2",
    "src/ae_top.cpp": "ae_top.cpp.j2",
    TB_SOURCE: "tb_ae_top.cpp.j2",
    "directives.tcl": "directives.tcl.j2",
    "Makefile": "Makefile.j2",
}
#: vectors shipped in a generated project (asicgen csim can draw more)
PROJECT_VECTORS_PER_REGION = 250


@dataclass(frozen=True)
class Named:
    name: str
    value: Any
    comment: str = ""


def _constants(design: Design) -> list[Named]:
    conv, dense, conv_in = design.conv, design.dense, design.converter
    rows, cols, channels = conv.in_shape
    c_rows, c_cols, filters = conv.out_shape
    sum_max_exp = (1 << conv_in.sum_code.exponent_bits) - 1
    return [
        Named("N_TC", conv_in.n_tc, "trigger cells per module"),
        Named("TC_EXP_BITS", conv_in.tc_code.exponent_bits),
        Named("TC_MANT_BITS", conv_in.tc_code.mantissa_bits),
        Named("SUM_BITS", conv_in.sum_bits, "bits of the sum of the decoded charges"),
        Named("SUM_EXP_BITS", conv_in.sum_code.exponent_bits),
        Named("SUM_MANT_BITS", conv_in.sum_code.mantissa_bits),
        Named("SUM_EXP_MAX", sum_max_exp), Named("SUM_CODE_MAX", conv_in.sum_code.max_code),
        Named("INPUT_BITS", conv_in.output_type.bits),
        Named("INPUT_FRAC_BITS", conv_in.output_type.frac_bits),
        Named("IN_ROWS", rows), Named("IN_COLS", cols), Named("IN_CHANNELS", channels),
        Named("KERNEL", conv.kernel), Named("STRIDE", conv.stride),
        Named("PAD_TOP", conv.pad_top, "TensorFlow 'same' padding"), Named("PAD_LEFT", conv.pad_left),
        Named("CONV_ROWS", c_rows), Named("CONV_COLS", c_cols), Named("CONV_FILTERS", filters),
        Named("FLAT_SIZE", dense.n_in), Named("N_OUTPUTS", dense.n_out),
        Named("WEIGHT_BITS", design.weight_bits), Named("OUTPUT_BITS", design.output_type.bits),
        Named("II", design.ii, "initiation interval (clocks per module)"),
        Named("POSITIONS_PER_PHASE", design.positions_per_phase, "convolution positions per clock"),
        Named("LATENCY", design.latency, "clocks from input to output"),
    ]


def _types(design: Design) -> list[Named]:
    c = design.converter
    mode_bits = design.elink_mode_bits
    return [
        Named("tc_code_t", naming.ac_int(c.tc_code.bits), "4E3M charge code"),
        Named("charge_t", naming.ac_int(c.charge_bits), "decoded charge"),
        Named("charge_sum_t", naming.ac_int(c.sum_bits), "sum of the 48 charges"),
        Named("scaled_charge_t", naming.ac_int(c.charge_bits + c.output_type.frac_bits),
              "charge << frac bits"),
        Named("msb_t", naming.ac_int(c.msb_bits), "position of the MSB of the sum"),
        Named("input_code_t", naming.ac_int(c.output_type.bits), "raw bits of an input"),
        Named("sum_code_t", naming.ac_int(c.sum_code.bits), "5E4M module sum"),
        Named("ae_input_t", naming.ac_fixed(c.output_type), "normalised charge"),
        Named("weight_t", naming.ac_fixed(design.conv.weight_type), "quantized_bits weight"),
        Named("conv_acc_t", naming.ac_fixed(design.conv.acc_type), "full-precision convolution sum"),
        Named("conv_act_t", naming.ac_fixed(design.conv.output_type), "quantized_relu after the convolution"),
        Named("dense_acc_t", naming.ac_fixed(design.dense.acc_type), "full-precision dense sum"),
        Named("ae_output_t", naming.ac_fixed(design.output_type), "quantized_relu encoded output"),
        Named("out_word_t", naming.ac_int(design.output_type.bits), "raw output bits on the e-links"),
        Named("elink_mode_t", naming.ac_int(mode_bits), "number of e-links"),
    ]


def _tensors(design: Design) -> list[dict[str, Any]]:
    return [{"name": t.name, "member": naming.tensor_member(t.name),
             "dims": "".join(f"[{d}]" for d in t.shape), "first_index": "[0]" * len(t.shape),
             "first": t.first_word, "last": t.first_word + t.size - 1, "size": t.size}
            for t in design.tensors]


def context(design: Design) -> dict[str, Any]:
    layout = layout_by_name(design.arch.layout)
    _, cols, channels = layout.shape
    positions = layout.flat_index_of_tc
    return {
        "top": naming.TOP, "converter": naming.CONVERTER, "encoder": naming.ENCODER,
        "testbench": naming.TESTBENCH, "design_summary": design.summary(),
        "constants": _constants(design), "types": _types(design), "tensors": _tensors(design),
        "tc_row": [p // (cols * channels) for p in positions],
        "tc_col": [p // channels % cols for p in positions],
        "tc_channel": [p % channels for p in positions],
        "ii": design.ii, "latency": design.latency, "positions_per_phase": design.positions_per_phase,
        "n_outputs": design.n_outputs, "n_tc": design.converter.n_tc, "layout": design.arch.layout,
        "kernel": design.conv.kernel, "stride": design.conv.stride,
        "conv_name": design.conv.name, "dense_name": design.dense.name,
        "conv_kernel": design.conv.kernel_tensor.name, "conv_bias": design.conv.bias_tensor.name,
        "dense_kernel": design.dense.kernel_tensor.name, "dense_bias": design.dense.bias_tensor.name,
        "elink_modes": design.elink_modes, "image_bytes": design.image_bytes,
        "clock_period_ns": naming.CLOCK_PERIOD_NS, "default_tech_lib": DEFAULT_TECH_LIB,
        "project": naming.hls_project_name(design.ii), "sources": SOURCES, "headers": HEADERS,
        "tb_source": TB_SOURCE,
    }


def source_files(design: Design, command: str) -> dict[str, str]:
    stamp = Stamp(f"HLS C++ of {naming.TOP}: {design.summary()}", design.digest(), command)
    env = environment("hls")
    ctx = context(design)
    return {path: render(env, template, stamp, path, **ctx) for path, template in TEMPLATES.items()}


def data_files(weights: WeightSet, vectors: VectorSet, command: str) -> dict[str, str]:
    """The weight image, stimulus and the bit-exact model's expected outputs."""
    design = weights.design
    expected = golden.run(design, weights, vectors.codes, vectors.elinks)
    digest = combined_sha256(design.digest(), weights.digest())
    stamp = Stamp(f"Weight image for {design.summary()}", digest, command)
    return {"data/weights.hex": hex_text(weights.image(), stamp, "weights.hex"),
            "data/stimulus.txt": table_text(np.column_stack([vectors.elinks, vectors.codes])),
            "data/expected.txt": table_text(np.column_stack([expected.sum_code, expected.out]))}


def manifest(design: Design, weights: WeightSet, command: str, vectors: VectorSet) -> dict[str, Any]:
    return {"tool": f"asicgen {__version__}", "kind": HLS_KIND, "design": design.to_raw(),
            "design_sha256": design.digest(), "weights_sha256": weights.digest(),
            "ii": design.ii, "latency": design.latency, "top": naming.TOP,
            "vectors": [{"source": name, "count": count} for name, count in vectors.sources],
            "command": command}


def generate_hls(out_dir: Path, weights: WeightSet, command: str, vectors: VectorSet | None = None,
                 force: bool = False) -> None:
    design = weights.design
    if vectors is None:
        vectors = standard_vectors(design, PROJECT_VECTORS_PER_REGION)
    files: dict[str, str | bytes] = {**source_files(design, command), **data_files(weights, vectors, command)}
    write_tree(out_dir, files, manifest(design, weights, command, vectors), force)

