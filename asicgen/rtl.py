"""The RTL back end: synthesisable SystemVerilog of the `Design` (jinja2 templates).

Internal modules follow the lowRISC style (`_d`/`_q`, `always_ff` holding only
reset and `q <= d`, named generate blocks, explicit widths). Every number is
computed here from the description; the templates only print it. The wrapper
modules (I2C target, register file) come from `rtl_wrappers`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asicgen import __version__
from asicgen.core import naming
from asicgen.core.design import ADDRESS_BITS, Design
from asicgen.core.geometry import layout_by_name
from asicgen.core.naming import CORE_FILES, FILE_ORDER, TOP_FILE
from asicgen.core.outputs import RTL_KIND
from asicgen.core.regmap import RegisterMap
from asicgen.core.render import Stamp, environment, render, write_tree
from asicgen.dot_tree import (
    DEFAULT_DOT_STRUCTURE,
    DOT_STRUCTURES,
    DotShape,
    RenderedTree,
    build_tree,
    render_tree,
)
from asicgen.tmr_policy import policy_file
from rtl_wrappers.generate import render_wrappers

CORE_TEMPLATES = {name: f"{name}.j2" for name in CORE_FILES}


@dataclass(frozen=True)
class Cell:
    index: int
    source: str
    comment: str


@dataclass(frozen=True)
class Position:
    index: int
    row: int
    col: int
    #: the concatenation, one kernel tap per line, last tap first
    tap_lines: list[str]
    padded: int


def _cells(design: Design) -> list[Cell]:
    layout = layout_by_name(design.arch.layout)
    rows, cols, channels = layout.shape
    tc_at = {flat: tc for tc, flat in enumerate(layout.flat_index_of_tc)}
    bits = design.converter.output_type.bits
    cells = []
    for flat in range(layout.size):
        r, c, ch = flat // (cols * channels), flat // channels % cols, flat % channels
        where = f"row {r}, col {c}, channel {ch}"
        if flat in tc_at:
            tc = tc_at[flat]
            cells.append(Cell(flat, f"x_i[{tc}*InputBits +: InputBits]", f"TC {tc}: {where}"))
        else:
            cells.append(Cell(flat, f"{bits}'d0", f"{where}: no TC"))
    return cells


def _positions(design: Design) -> list[Position]:
    """Patch sources of every convolution position, taps in kernel C order (row, col, channel)."""
    conv = design.conv
    rows, cols, channels = conv.in_shape
    r_out, c_out, _ = conv.out_shape
    zero = f"{conv.input_type.bits}'d0"
    positions = []
    for index in range(r_out * c_out):
        row, col = divmod(index, c_out)
        inside = {(kr, kc): (r, c) for kr, kc, r, c in conv.taps(row, col)}
        groups = []
        for kr in range(conv.kernel):
            for kc in range(conv.kernel):
                if (kr, kc) in inside:
                    r, c = inside[(kr, kc)]
                    terms = [f"image[{(r * cols + c) * channels + ch}*InputBits +: InputBits]"
                             for ch in range(channels)]
                    note = f"tap ({kr},{kc}) = image row {r}, col {c}"
                else:
                    terms = [zero] * channels
                    note = f"tap ({kr},{kc}) in the padding"
                groups.append((", ".join(reversed(terms)), note))
        # {a, b, c} puts a in the top bits: the last tap comes first
        groups.reverse()
        text = [f"{terms}{',' if i < len(groups) - 1 else ' '}  // {note}"
                for i, (terms, note) in enumerate(groups)]
        padded = conv.kernel * conv.kernel - len(inside)
        positions.append(Position(index, row, col, text, padded * channels))
    return positions


def _used_by_unit(design: Design) -> list[list[bool]]:
    """Per convolution unit q, the taps inside the image at some position it serves
    (positions p * per_phase + q)."""
    conv = design.conv
    channels = conv.in_shape[2]
    _, c_out, _ = conv.out_shape
    per_phase = design.positions_per_phase
    taps = conv.kernel * conv.kernel * channels
    units = []
    for q in range(per_phase):
        used = [False] * taps
        for phase in range(design.ii):
            row, col = divmod(phase * per_phase + q, c_out)
            for kr, kc, _, _ in conv.taps(row, col):
                for ch in range(channels):
                    used[(kr * conv.kernel + kc) * channels + ch] = True
        units.append(used)
    return units


def _used_taps(design: Design) -> str:
    """The Used bits of every convolution unit as one binary literal, unit 0 in the low bits."""
    units = reversed(_used_by_unit(design))
    bits = "".join("".join("1" if u else "0" for u in reversed(used)) for used in units)
    width = len(bits)
    return f"{width}'h{int(bits, 2):0{-(-width // 4)}x}"


def dot_shapes(design: Design) -> list[DotShape]:
    """The distinct `ae_dot` parameter sets of the design: convolution units, then the dense unit."""
    conv, dense = design.conv, design.dense
    shapes = [DotShape(len(used), tuple(used), design.converter.output_type.bits, design.weight_bits,
                       conv.acc_type.bits, conv.acc_type.frac_bits - conv.weight_type.frac_bits)
              for used in _used_by_unit(design)]
    phase_inputs = design.positions_per_phase * conv.out_shape[2]
    shapes.append(DotShape(phase_inputs, (True,) * phase_inputs, conv.output_type.bits, design.weight_bits,
                           dense.acc_type.bits, dense.acc_type.frac_bits - dense.weight_type.frac_bits))
    return list(dict.fromkeys(shapes))


def dot_trees(design: Design, structure: str) -> list[RenderedTree]:
    if structure not in DOT_STRUCTURES:
        raise ValueError(f"unknown dot-product structure {structure!r} "
                         f"(choose one of {', '.join(DOT_STRUCTURES)})")
    if structure == "chain":
        return []
    return [render_tree(build_tree(shape), f"g_tree{i}") for i, shape in enumerate(dot_shapes(design))]


@dataclass(frozen=True)
class ElinkMode:
    elinks: int
    kept_bits: int
    #: kept bits as 1s, dropped bits as 0s, MSB first
    mask: str


@dataclass(frozen=True)
class RtlContext:
    """Everything the RTL templates print: computed here from the description, never in a
    template."""

    top: str
    design_summary: str
    ii: int
    latency: int
    n_tc: int
    tc_bits: int
    tc_format: str
    tc_exp_bits: int
    tc_mant_bits: int
    charge_bits: int
    sum_bits: int
    msb_bits: int
    input_bits: int
    input_frac: int
    sum_exp_bits: int
    sum_mant_bits: int
    sum_code_bits: int
    sum_format: str
    weight_bits: int
    image_bits: int
    layout: str
    image_shape: str
    n_cells: int
    cells: list[Cell]
    n_positions: int
    positions: list[Position]
    used_taps: str
    dot_trees: list[RenderedTree]
    dot_default: DotShape
    position_bits: int
    taps: int
    kernel: int
    channels: int
    filters: int
    conv_acc_bits: int
    conv_act_bits: int
    conv_shift: int
    conv_bias_shift: int
    units: int
    dense_acc_bits: int
    output_bits: int
    dense_shift: int
    dense_bias_shift: int
    positions_per_phase: int
    macs_per_clock: int
    #: width of the phase counter of a module's II clocks (at least one bit)
    phase_bits: int
    conv_bias_word: int
    dense_kernel_word: int
    dense_bias_word: int
    conv_name: str
    dense_name: str
    conv_summary: str
    dense_summary: str
    mode_bits: int
    elink_modes: list[ElinkMode]
    tc_port_bits: int
    out_port_bits: int
    #: the register bus between the I2C target and the register file
    bus_addr_bits: int
    clock_mhz: int
    n_tmr_flags: int
    classes: list[str]
    tmr_note: str
    i2c_instance: str
    regfile_instance: str
    core_instance: str
    tmr_hook: str
    tmr_hook_instance: str
    tmr_hook_flags_port: str
    tmr_hook_upset_port: str
    tmr_err_port: str
    tmr_err_register: str

    def fields(self) -> dict[str, Any]:
        """The template variables (a shallow view: nested objects stay typed)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def context(design: Design, dot_structure: str = DEFAULT_DOT_STRUCTURE) -> RtlContext:
    conv, dense, conv_in = design.conv, design.dense, design.converter
    r_out, c_out, filters = conv.out_shape
    rows, cols, channels = conv.in_shape
    regmap = RegisterMap.for_design(design)
    out_bits = design.output_type.bits
    n_positions = r_out * c_out
    for stage in (conv, dense):
        if stage.output_type.rounding != "convergent" or stage.output_type.overflow != "saturate" \
                or stage.output_type.signed:
            raise ValueError(f"{stage.name}: the RTL implements unsigned convergent/saturating activations")
    return RtlContext(
        top=naming.TOP, design_summary=design.summary(), ii=design.ii, latency=design.latency,
        n_tc=conv_in.n_tc, tc_bits=conv_in.tc_code.bits, tc_format="4E3M",
        tc_exp_bits=conv_in.tc_code.exponent_bits, tc_mant_bits=conv_in.tc_code.mantissa_bits,
        charge_bits=conv_in.charge_bits, sum_bits=conv_in.sum_bits, msb_bits=conv_in.msb_bits,
        input_bits=conv_in.output_type.bits, input_frac=conv_in.output_type.frac_bits,
        sum_exp_bits=conv_in.sum_code.exponent_bits, sum_mant_bits=conv_in.sum_code.mantissa_bits,
        sum_code_bits=conv_in.sum_code.bits, sum_format="5E4M",
        weight_bits=design.weight_bits, image_bits=design.image_bits,
        layout=design.arch.layout, image_shape="x".join(map(str, conv.in_shape)),
        n_cells=rows * cols * channels, cells=_cells(design),
        n_positions=n_positions, positions=_positions(design), used_taps=_used_taps(design),
        dot_trees=dot_trees(design, dot_structure), dot_default=dot_shapes(design)[-1],
        position_bits=max(1, (n_positions - 1).bit_length()),
        taps=conv.kernel * conv.kernel * channels, kernel=conv.kernel, channels=channels,
        filters=filters, conv_acc_bits=conv.acc_type.bits, conv_act_bits=conv.output_type.bits,
        conv_shift=conv.acc_type.frac_bits - conv.output_type.frac_bits,
        conv_bias_shift=conv.acc_type.frac_bits - conv.weight_type.frac_bits,
        units=dense.n_out, dense_acc_bits=dense.acc_type.bits, output_bits=out_bits,
        dense_shift=dense.acc_type.frac_bits - dense.output_type.frac_bits,
        dense_bias_shift=dense.acc_type.frac_bits - dense.weight_type.frac_bits,
        positions_per_phase=design.positions_per_phase, macs_per_clock=design.macs_per_clock,
        phase_bits=max(1, (design.ii - 1).bit_length()),
        conv_bias_word=conv.bias_tensor.first_word, dense_kernel_word=dense.kernel_tensor.first_word,
        dense_bias_word=dense.bias_tensor.first_word,
        conv_name=conv.name, dense_name=dense.name,
        conv_summary=(f"{conv.name} {filters} filters {conv.kernel}x{conv.kernel} stride {conv.stride} "
                      f"'same' on {conv.in_shape[0]}x{conv.in_shape[1]}x{channels}, quantised ReLU "
                      f"{conv.output_type.bits} bits"),
        dense_summary=f"{dense.name} {dense.n_in} -> {dense.n_out}, quantised ReLU {out_bits} bits",
        mode_bits=regmap.reg.ELINK_MODE.field.elinks.width,
        elink_modes=[ElinkMode(m.elinks, m.kept_bits, "1" * m.kept_bits + "0" * m.dropped_bits)
                     for m in design.elink_modes],
        tc_port_bits=conv_in.n_tc * conv_in.tc_code.bits, out_port_bits=dense.n_out * out_bits,
        bus_addr_bits=ADDRESS_BITS,
        clock_mhz=naming.CLOCK_MHZ, n_tmr_flags=len(regmap.reg.TMR_ERR.fields),
        classes=[f.name for f in regmap.reg.TMR_ERR.fields],
        tmr_note=f"Plain build: {naming.TMR_ERR_PORT} is always 0 (see {naming.TMR_HOOK}).",
        # ae_top's instance, hook and error-pin names: the TMR policy selects registers by them
        i2c_instance=naming.I2C_INSTANCE, regfile_instance=naming.REGFILE_INSTANCE,
        core_instance=naming.CORE_INSTANCE, tmr_hook=naming.TMR_HOOK,
        tmr_hook_instance=naming.TMR_HOOK_INSTANCE, tmr_hook_flags_port=naming.TMR_HOOK_FLAGS_PORT,
        tmr_hook_upset_port=naming.TMR_HOOK_UPSET_PORT, tmr_err_port=naming.TMR_ERR_PORT,
        tmr_err_register=naming.TMR_ERR_REGISTER)


def rtl_files(design: Design, command: str, dot_structure: str = DEFAULT_DOT_STRUCTURE) -> dict[str, str]:

    stamp = Stamp(f"RTL of {naming.TOP}: {design.summary()}", design.digest(), command)
    env = environment("rtl")
    ctx = context(design, dot_structure).fields()
    files = {name: render(env, template, stamp, name, **ctx) for name, template in CORE_TEMPLATES.items()}
    files.update(render_wrappers(design, stamp))
    files[TOP_FILE] = render(env, "ae_top.sv.j2", stamp, TOP_FILE, **ctx)
    files["files.f"] = stamp.header("files.f") + "".join(f"{name}\n" for name in FILE_ORDER)
    # beside the RTL, so that `asicgen tmr` hardens it with its own policy
    files[naming.TMR_POLICY_FILE] = policy_file(design, stamp)
    return files


def manifest(design: Design, command: str, dot_structure: str = DEFAULT_DOT_STRUCTURE) -> dict[str, Any]:
    return {"dot_structure": dot_structure,
            "tool": f"asicgen {__version__}", "kind": RTL_KIND, "design": design.to_raw(),
            "design_sha256": design.digest(), "ii": design.ii, "latency": design.latency,
            "top": naming.TOP, "file_order": list(FILE_ORDER), "command": command}


def generate_rtl(out_dir: Path, design: Design, command: str,
                 dot_structure: str = DEFAULT_DOT_STRUCTURE) -> list[Path]:
    """The RTL of `design`; `dot_structure` picks how dot products are built (`DOT_STRUCTURES`)."""
    write_tree(out_dir, rtl_files(design, command, dot_structure), manifest(design, command, dot_structure))
    return [Path(out_dir) / name for name in FILE_ORDER]
