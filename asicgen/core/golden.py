"""The bit-exact Python model of the IP: the reference every other layer matches.

Integer numpy throughout, vectorised over modules. Every value is an integer
code of the type the `Design` gives it (value = code / 2^frac_bits). The
multiply-accumulates run as float64 matrix products: every partial sum is an
integer far below 2^53 (the design refuses wider accumulators), so float64 is
exact and lets BLAS do the work.

Requantisation follows QKeras `quantized_relu` and Algorithmic C
`AC_RND_CONV, AC_SAT`: round half to even, then clip to the output range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asicgen.core.arch import FixedType
from asicgen.core.design import ConvStage, DenseStage, Design, drop_low_bits
from asicgen.core.geometry import layout_by_name
from asicgen.core.normalise import convert_codes
from asicgen.core.weights import WeightSet

#: modules per vectorised chunk: bounds memory of the convolution patches
CHUNK = 8192


@dataclass(frozen=True)
class Outputs:
    """What the IP emits per module (SPEC section 6)."""

    sum_code: np.ndarray  # (N,) 5E4M codes
    latent: np.ndarray  # (N, 16) full-width output codes, before the e-links
    out: np.ndarray  # (N, 16) codes as sent: low bits zero in narrow modes


def requantise(acc: np.ndarray, acc_type: FixedType, out_type: FixedType) -> np.ndarray:
    """Assign integer codes of `acc_type` to `out_type` (rounding, then overflow)."""
    acc = np.asarray(acc, dtype=np.int64)
    shift = acc_type.frac_bits - out_type.frac_bits
    if shift <= 0:
        codes = acc << -shift
    elif out_type.rounding == "convergent":
        codes = round_half_even_shift(acc, shift)
    else:
        codes = acc >> shift
    if out_type.overflow == "saturate":
        return np.clip(codes, out_type.min_code, out_type.max_code)
    span = 1 << out_type.bits
    wrapped = codes & (span - 1)
    return wrapped - span * (wrapped > out_type.max_code) if out_type.signed else wrapped


def round_half_even_shift(values: np.ndarray, shift: int) -> np.ndarray:
    """values / 2^shift, rounded to nearest, ties to even (exact, any sign)."""
    floor = values >> shift
    rest = values & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    up = (rest > half) | ((rest == half) & (floor & 1 == 1))
    return floor + up


def convert(design: Design, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 48) 4E3M codes -> ((N, 48) input codes, (N,) 5E4M sum codes)."""
    return convert_codes(codes, design.converter.output_type.frac_bits)


def conv_layer(stage: ConvStage, images: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(N, rows, cols, channels) input codes -> (N, r', c', filters) activation codes."""
    n, rows, cols, channels = images.shape
    r_out, c_out, filters = stage.out_shape
    k = stage.kernel
    pad_bottom = (r_out - 1) * stage.stride + k - rows - stage.pad_top
    pad_right = (c_out - 1) * stage.stride + k - cols - stage.pad_left
    padded = np.pad(images.astype(np.float64),
                    ((0, 0), (stage.pad_top, max(pad_bottom, 0)), (stage.pad_left, max(pad_right, 0)),
                     (0, 0)))
    patches = np.empty((n, r_out, c_out, k, k, channels), dtype=np.float64)
    for kr in range(k):
        for kc in range(k):
            patches[:, :, :, kr, kc, :] = padded[:, kr:kr + stage.stride * r_out:stage.stride,
                                                 kc:kc + stage.stride * c_out:stage.stride, :]
    acc = patches.reshape(n, r_out, c_out, -1) @ kernel.reshape(-1, filters).astype(np.float64)
    bias_shift = stage.acc_type.frac_bits - stage.weight_type.frac_bits
    acc_codes = acc.astype(np.int64) + (bias.astype(np.int64) << bias_shift)
    return requantise(acc_codes, stage.acc_type, stage.output_type)


def dense_layer(stage: DenseStage, flat: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(N, n_in) activation codes -> (N, n_out) output codes."""
    acc = flat.astype(np.float64) @ kernel.astype(np.float64)
    bias_shift = stage.acc_type.frac_bits - stage.weight_type.frac_bits
    acc_codes = acc.astype(np.int64) + (bias.astype(np.int64) << bias_shift)
    return requantise(acc_codes, stage.acc_type, stage.output_type)


def encode(design: Design, weights: WeightSet, inputs: np.ndarray) -> np.ndarray:
    """(N, 48) input codes in CALQ order -> (N, 16) full-width output codes."""
    inputs = np.asarray(inputs, dtype=np.int64)
    layout = layout_by_name(design.arch.layout)
    out = np.empty((len(inputs), design.n_outputs), dtype=np.int64)
    for start in range(0, len(inputs), CHUNK):
        images = layout.to_image(inputs[start:start + CHUNK])
        act = conv_layer(design.conv, images, weights["conv_kernel"], weights["conv_bias"])
        out[start:start + CHUNK] = dense_layer(design.dense, act.reshape(len(act), -1),
                                               weights["dense_kernel"], weights["dense_bias"])
    return out


def elink_truncate(design: Design, latent: np.ndarray, elinks: int | np.ndarray) -> np.ndarray:
    """Keep the top bits the e-link mode carries; the dropped low bits read as zero.

    `elinks` is one mode for all modules or an (N,) array of modes.
    """
    drop = np.zeros_like(np.asarray(elinks, dtype=np.int64))
    modes = np.asarray(elinks, dtype=np.int64)
    for mode in design.elink_modes:
        drop = np.where(modes == mode.elinks, mode.dropped_bits, drop)
    unknown = ~np.isin(modes, [m.elinks for m in design.elink_modes])
    if np.any(unknown):
        design.elink_mode(int(np.asarray(modes)[unknown].flat[0]))  # raises, naming the mode
    drop = drop[..., None] if drop.ndim else drop
    return drop_low_bits(latent, drop)


def run(design: Design, weights: WeightSet, codes: np.ndarray, elinks: int | np.ndarray) -> Outputs:
    """The whole IP on (N, 48) 4E3M codes: converter, encoder, e-link truncation.

    Codes and e-link modes are integers; integer-valued floats are accepted, anything
    else is an error rather than truncated (the hardware has no fractional code)."""
    codes = integer_array(codes, "codes", f"4E3M TC codes 0..{design.converter.tc_code.max_code}")
    if codes.ndim != 2 or codes.shape[1] != design.converter.n_tc:
        raise ValueError(f"expected (N, {design.converter.n_tc}) TC codes, got shape {codes.shape}")
    elinks = integer_array(elinks, "elinks", "e-link modes "
                           + ", ".join(str(m.elinks) for m in design.elink_modes))
    inputs, sum_code = convert(design, codes)
    latent = encode(design, weights, inputs)
    return Outputs(sum_code, latent, elink_truncate(design, latent, elinks))


def integer_array(values: np.ndarray | int, name: str, allowed: str) -> np.ndarray:
    """`values` as int64, refusing what a cast would silently change (3.7 -> 3, NaN)."""
    array = np.asarray(values)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind != "f":
        raise ValueError(f"{name}: expected integers ({allowed}), got {array.dtype} values")
    bad = ~np.isfinite(array) | (array != np.round(array))
    if np.any(bad):
        first = tuple(int(i) for i in np.argwhere(bad)[0]) if array.ndim else ()
        where = f"{list(first)}" if array.ndim else ""
        raise ValueError(f"{name}{where}: {float(array[first])} is not an integer; expected {allowed} "
                         f"(integer-valued floats are accepted); {np.count_nonzero(bad)} such value(s)")
    return array.astype(np.int64)
