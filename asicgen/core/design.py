"""The architecture description every generator reads (SPEC sections 3, 4, 6, 7).

A `Design` is built once, from an `EncoderArch` (a config file or a trained
QKeras model, see `training.qkeras_import`) and an initiation interval. It holds
each stage's shapes, number types (with rounding and saturation), weight tensors
in register order, the e-link modes, the II and the latency. The bit-exact model,
the weight image, the register map and the HLS and RTL writers read only this
object; anything it cannot represent is refused here, naming the reason.

Timing (SPEC section 7): the converter takes one clock; the encoder takes II
clocks, each computing 1/II of the convolution outputs and feeding them straight
into the dense accumulators, so the multipliers are shared over II clocks.
Latency is therefore 1 + II (2 at the default II = 1).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from asicgen.core.arch import EncoderArch, FixedType
from asicgen.core.codec import SUM_CODE, TC_CODE, FloatCode
from asicgen.core.geometry import N_TC
from asicgen.core.raw import ConfigError, check_keys, get_int

SUPPORTED_II = (1, 2, 4, 8)
CONVERTER_CLOCKS = 1
#: e-links -> output bits kept (SPEC section 6): b = 2 * elinks - 1
ELINK_RANGE = (2, 3, 4, 5)


def elink_kept_bits(elinks: int, output_bits: int | None = None) -> int:
    """Output bits `elinks` e-links carry (SPEC section 6): 2 * elinks - 1, at most the outputs'
    width when it is given."""
    bits = 2 * elinks - 1
    return bits if output_bits is None else min(bits, output_bits)


def drop_low_bits(codes: Any, dropped: Any) -> Any:
    """E-link truncation of integer output codes: the `dropped` low bits read as zero."""
    return (codes >> dropped) << dropped
#: the register address is 16 bits; the top page holds control and status
ADDRESS_BITS = 16
MAX_WEIGHT_BITS = 16
#: float64 holds every integer below 2^53 exactly; the vectorised model relies on it
MAX_ACCUMULATOR_BITS = 52


@dataclass(frozen=True)
class TensorSpec:
    """One weight tensor: name, QKeras shape, number type, first word in the image."""

    name: str
    shape: tuple[int, ...]
    type: FixedType
    first_word: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class ConverterStage:
    """4E3M decode, sum, MSB normalisation, truncation to the input type, 5E4M sum."""

    n_tc: int
    tc_code: FloatCode
    sum_code: FloatCode
    charge_bits: int
    sum_bits: int
    output_type: FixedType

    @property
    def msb_bits(self) -> int:
        """Bits of the MSB position k = floor(log2 S)."""
        return max(1, (self.sum_bits - 1).bit_length())


@dataclass(frozen=True)
class ConvStage:
    name: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: int
    stride: int
    #: 'same' padding as TensorFlow computes it (more at the bottom/right when odd)
    pad_top: int
    pad_left: int
    input_type: FixedType
    weight_type: FixedType
    acc_type: FixedType
    output_type: FixedType
    kernel_tensor: TensorSpec
    bias_tensor: TensorSpec

    def taps(self, out_row: int, out_col: int) -> list[tuple[int, int, int, int]]:
        """(kernel row, kernel col, input row, input col) of every tap inside the image."""
        rows, cols, _ = self.in_shape
        found = []
        for kr in range(self.kernel):
            r = out_row * self.stride - self.pad_top + kr
            for kc in range(self.kernel):
                c = out_col * self.stride - self.pad_left + kc
                if 0 <= r < rows and 0 <= c < cols:
                    found.append((kr, kc, r, c))
        return found

    @property
    def macs(self) -> int:
        """Multiply-accumulates per module, zero padding skipped."""
        r_out, c_out, filters = self.out_shape
        taps = sum(len(self.taps(r, c)) for r in range(r_out) for c in range(c_out))
        return taps * self.in_shape[2] * filters


@dataclass(frozen=True)
class DenseStage:
    name: str
    n_in: int
    n_out: int
    input_type: FixedType
    weight_type: FixedType
    acc_type: FixedType
    output_type: FixedType
    kernel_tensor: TensorSpec
    bias_tensor: TensorSpec

    @property
    def macs(self) -> int:
        return self.n_in * self.n_out


@dataclass(frozen=True)
class ElinkMode:
    """With `elinks` links, the top `kept_bits` of every `output_bits`-bit output travel."""

    elinks: int
    kept_bits: int
    output_bits: int

    @property
    def dropped_bits(self) -> int:
        return self.output_bits - self.kept_bits


def accumulator_type(input_type: FixedType, weight_type: FixedType, terms: int) -> FixedType:
    """Full-precision sum of `terms` products (SPEC section 4: accumulate at full precision).

    The product of an unsigned a-bit and a signed w-bit number fits a+w signed
    bits; each doubling of the number of terms adds one bit.
    """
    growth = max(0, (terms - 1).bit_length())
    bits = input_type.bits + weight_type.bits + growth
    integer_bits = input_type.integer_bits + weight_type.integer_bits + growth
    return FixedType(bits, integer_bits, signed=True)


def same_padding(size: int, kernel: int, stride: int) -> int:
    """Leading pad of TensorFlow's 'same' padding."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2


@dataclass(frozen=True)
class Design:
    arch: EncoderArch
    ii: int

    # -- construction ---------------------------------------------------------

    @classmethod
    def build(cls, arch: EncoderArch, ii: int = 1, where: str = "design") -> Design:
        arch.validate(f"{where}.architecture")
        design = cls(arch, ii)
        design.validate(where)
        return design

    @classmethod
    def from_raw(cls, raw: Any, where: str = "design") -> Design:
        data = check_keys(raw, where, {"architecture"}, {"ii"})
        arch = EncoderArch.from_raw(data["architecture"], f"{where}.architecture")
        ii = get_int(data, "ii", where, default=1)
        return cls.build(arch, ii, where)

    def to_raw(self) -> dict[str, Any]:
        return {"architecture": self.arch.to_raw(), "ii": self.ii}

    def with_ii(self, ii: int) -> Design:
        return Design.build(self.arch, ii)

    def validate(self, where: str = "design") -> None:
        if self.ii not in SUPPORTED_II:
            raise ConfigError(f"{where}.ii: initiation interval {self.ii} is not supported "
                              f"(choose one of {', '.join(map(str, SUPPORTED_II))})")
        if self.conv.out_shape[0] * self.conv.out_shape[1] % self.ii:
            raise ConfigError(f"{where}.ii: {self.ii} clocks cannot share the "
                              f"{self.conv.out_shape[0]}x{self.conv.out_shape[1]} convolution "
                              "positions evenly")
        if self.arch.weight_bits > MAX_WEIGHT_BITS:
            raise ConfigError(f"{where}.architecture.weight_bits: {self.arch.weight_bits}-bit weights do "
                              f"not fit the register map (at most {MAX_WEIGHT_BITS} bits per word)")
        if self.image_bytes > self.control_base:
            raise ConfigError(f"{where}.architecture: {self.n_weights} weights of {self.arch.weight_bits} "
                              f"bits need {self.image_bytes} bytes, more than the {self.control_base} "
                              f"bytes the {ADDRESS_BITS}-bit register address leaves below the "
                              "control registers")
        fewest = ELINK_RANGE[0]
        if self.arch.output_bits < elink_kept_bits(fewest):
            raise ConfigError(f"{where}.architecture.output_bits: {self.arch.output_bits} bits cannot "
                              f"carry the {elink_kept_bits(fewest)} bits of the {fewest}-e-link mode")
        for stage in (self.conv, self.dense):
            if stage.acc_type.bits > MAX_ACCUMULATOR_BITS:
                raise ConfigError(f"{where}: layer {stage.name} needs a {stage.acc_type.bits}-bit "
                                  f"accumulator; at most {MAX_ACCUMULATOR_BITS} bits are supported")

    # -- stages -----------------------------------------------------------------

    @cached_property
    def converter(self) -> ConverterStage:
        charge_bits = TC_CODE.max_value.bit_length()
        sum_bits = (TC_CODE.max_value * N_TC).bit_length()
        return ConverterStage(N_TC, TC_CODE, SUM_CODE, charge_bits, sum_bits, self.arch.input_type)

    @cached_property
    def conv(self) -> ConvStage:
        a = self.arch
        rows, cols, channels = a.input_shape
        kernel = TensorSpec("conv_kernel", a.conv_kernel_shape, a.weight_type, 0)
        bias = TensorSpec("conv_bias", (a.conv_filters,), a.weight_type, kernel.size)
        terms = a.conv_kernel * a.conv_kernel * channels + 1
        return ConvStage(
            name="conv", in_shape=a.input_shape, out_shape=a.conv_output_shape,
            kernel=a.conv_kernel, stride=a.conv_stride,
            pad_top=same_padding(rows, a.conv_kernel, a.conv_stride),
            pad_left=same_padding(cols, a.conv_kernel, a.conv_stride),
            input_type=a.input_type, weight_type=a.weight_type,
            acc_type=accumulator_type(a.input_type, a.weight_type, terms),
            output_type=a.conv_act_type, kernel_tensor=kernel, bias_tensor=bias)

    @cached_property
    def dense(self) -> DenseStage:
        a = self.arch
        first = self.conv.bias_tensor.first_word + self.conv.bias_tensor.size
        kernel = TensorSpec("dense_kernel", a.dense_kernel_shape, a.weight_type, first)
        bias = TensorSpec("dense_bias", (a.dense_units,), a.weight_type, first + kernel.size)
        return DenseStage(
            name="dense", n_in=a.flat_size, n_out=a.dense_units,
            input_type=a.conv_act_type, weight_type=a.weight_type,
            acc_type=accumulator_type(a.conv_act_type, a.weight_type, a.flat_size + 1),
            output_type=a.output_type, kernel_tensor=kernel, bias_tensor=bias)

    # -- weights, outputs, timing ---------------------------------------------------

    @property
    def tensors(self) -> tuple[TensorSpec, ...]:
        """Weight tensors in register order (SPEC section 8)."""
        return (self.conv.kernel_tensor, self.conv.bias_tensor,
                self.dense.kernel_tensor, self.dense.bias_tensor)

    @property
    def n_weights(self) -> int:
        return sum(t.size for t in self.tensors)

    @property
    def weight_bits(self) -> int:
        return self.arch.weight_bits

    @property
    def image_bits(self) -> int:
        return self.n_weights * self.weight_bits

    @property
    def image_bytes(self) -> int:
        return -(-self.image_bits // 8)

    @property
    def control_base(self) -> int:
        """Control and status registers live in the top page of the address space."""
        return (1 << ADDRESS_BITS) - 0x100

    @property
    def n_outputs(self) -> int:
        return self.arch.dense_units

    @property
    def output_type(self) -> FixedType:
        return self.dense.output_type

    @property
    def elink_modes(self) -> tuple[ElinkMode, ...]:
        bits = self.output_type.bits
        return tuple(ElinkMode(e, elink_kept_bits(e, bits), bits) for e in ELINK_RANGE)

    @property
    def elink_mode_bits(self) -> int:
        """Width of the e-link mode field: enough for the largest number of e-links."""
        return max(m.elinks for m in self.elink_modes).bit_length()

    @property
    def default_elinks(self) -> int:
        return ELINK_RANGE[-1]

    def elink_mode(self, elinks: int) -> ElinkMode:
        for mode in self.elink_modes:
            if mode.elinks == elinks:
                return mode
        raise ConfigError(f"e-link mode {elinks} is not supported (choose one of "
                          f"{', '.join(str(m.elinks) for m in self.elink_modes)})")

    @property
    def encoder_clocks(self) -> int:
        return self.ii

    @property
    def latency(self) -> int:
        return CONVERTER_CLOCKS + self.encoder_clocks

    @property
    def positions_per_phase(self) -> int:
        """Convolution positions (all filters each) computed in one encoder clock."""
        rows, cols, _ = self.conv.out_shape
        return rows * cols // self.ii

    @property
    def macs(self) -> int:
        return self.conv.macs + self.dense.macs

    @property
    def macs_per_clock(self) -> int:
        return -(-self.macs // self.ii)

    # -- identity ----------------------------------------------------------------

    def digest(self) -> str:
        text = json.dumps(self.to_raw(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def summary(self) -> str:
        return (f"{self.arch.layout} encoder, {self.n_weights} weights x {self.weight_bits} bits, "
                f"II={self.ii}, latency {self.latency} clocks, {self.macs} MACs")
