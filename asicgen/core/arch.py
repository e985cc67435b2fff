"""Parameters of the encoder architecture (SPEC section 4).

`EncoderArch` is the typed, validated set of architecture parameters: image
layout, filter count, kernel, stride, dense width and every bit width. The
training code builds its QKeras model from it, and the generators read it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from asicgen.core.geometry import layout_by_name
from asicgen.core.raw import ConfigError, check_keys, get_int, get_str

LAYOUT_NAMES = ("4x4x3", "8x8")


ROUNDING_MODES = ("truncate", "convergent")
OVERFLOW_MODES = ("wrap", "saturate")


@dataclass(frozen=True)
class FixedType:
    """An `ac_fixed<bits, integer_bits, signed, rounding, overflow>` number format.

    `rounding` and `overflow` say what happens when a wider value is assigned to
    this type: "convergent" rounds half to even (QKeras's `tf.round`, Algorithmic
    C's AC_RND_CONV), "truncate" drops the low bits; "saturate" clips to the
    range, "wrap" keeps the low bits.
    """

    bits: int
    integer_bits: int
    signed: bool
    rounding: str = "truncate"
    overflow: str = "wrap"

    @property
    def frac_bits(self) -> int:
        return self.bits - self.integer_bits

    @property
    def scale(self) -> int:
        """Integer code = value * scale."""
        return 1 << self.frac_bits

    @property
    def min_code(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def describe(self) -> str:
        sign = "signed" if self.signed else "unsigned"
        return (f"{self.bits} bits ({self.integer_bits} integer, {sign}, "
                f"{self.rounding}, {self.overflow})")

    def to_raw(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EncoderArch:
    layout: str = "4x4x3"
    conv_filters: int = 8
    conv_kernel: int = 3
    conv_stride: int = 1
    dense_units: int = 16
    weight_bits: int = 6
    input_bits: int = 8
    conv_act_bits: int = 8
    output_bits: int = 9

    # -- construction ---------------------------------------------------------

    @classmethod
    def preset(cls, name: str) -> EncoderArch:
        if name in ("default", "4x4x3"):
            return cls()
        if name == "8x8":
            return cls(layout="8x8", conv_stride=2)
        raise ConfigError(f"unknown architecture preset {name!r}; choose default (4x4x3) or 8x8")

    @classmethod
    def from_raw(cls, raw: Any, where: str = "architecture") -> EncoderArch:
        fields = set(cls.__dataclass_fields__)
        data = check_keys(raw, where, set(), fields | {"preset"})
        base = cls.preset(get_str(data, "preset", where, "default")) if "preset" in data else cls()
        values = asdict(base)
        for key in fields - {"layout"}:
            if key in data:
                values[key] = get_int(data, key, where, lo=1)
        if "layout" in data:
            values["layout"] = get_str(data, "layout", where, choices=LAYOUT_NAMES)
        arch = cls(**values)
        arch.validate(where)
        return arch

    def validate(self, where: str = "architecture") -> None:
        if self.layout not in LAYOUT_NAMES:
            raise ConfigError(f"{where}.layout: {self.layout!r} is not one of {LAYOUT_NAMES}")
        if self.conv_kernel % 2 != 1:
            raise ConfigError(f"{where}.conv_kernel: must be odd for 'same' padding, got {self.conv_kernel}")
        rows, cols, _ = self.input_shape
        if rows % self.conv_stride or cols % self.conv_stride:
            raise ConfigError(f"{where}.conv_stride: {self.conv_stride} does not divide the "
                              f"{rows}x{cols} image")
        if self.weight_bits < 2:
            raise ConfigError(f"{where}.weight_bits: a signed weight needs at least 2 bits")
        for key in ("input_bits", "conv_act_bits", "output_bits"):
            if getattr(self, key) < 2:
                raise ConfigError(f"{where}.{key}: needs at least 2 bits (1 integer bit)")

    def to_raw(self) -> dict[str, Any]:
        return asdict(self)

    # -- derived shapes and types ----------------------------------------------

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return layout_by_name(self.layout).shape

    @property
    def conv_output_shape(self) -> tuple[int, int, int]:
        rows, cols, _ = self.input_shape
        return rows // self.conv_stride, cols // self.conv_stride, self.conv_filters

    @property
    def flat_size(self) -> int:
        r, c, f = self.conv_output_shape
        return r * c * f

    @property
    def conv_kernel_shape(self) -> tuple[int, int, int, int]:
        return self.conv_kernel, self.conv_kernel, self.input_shape[2], self.conv_filters

    @property
    def dense_kernel_shape(self) -> tuple[int, int]:
        return self.flat_size, self.dense_units

    @property
    def n_conv_params(self) -> int:
        k = self.conv_kernel_shape
        return k[0] * k[1] * k[2] * k[3] + self.conv_filters

    @property
    def n_dense_params(self) -> int:
        return self.flat_size * self.dense_units + self.dense_units

    @property
    def n_weights(self) -> int:
        return self.n_conv_params + self.n_dense_params

    @property
    def input_type(self) -> FixedType:
        return FixedType(self.input_bits, 1, signed=False)

    @property
    def weight_type(self) -> FixedType:
        """quantized_bits(bits, 0, alpha=1): sign bit only, the rest fraction."""
        return FixedType(self.weight_bits, 1, signed=True)

    @property
    def conv_act_type(self) -> FixedType:
        """quantized_relu(bits, 1): round half to even, clip to [0, 2)."""
        return FixedType(self.conv_act_bits, 1, signed=False, rounding="convergent", overflow="saturate")

    @property
    def output_type(self) -> FixedType:
        return FixedType(self.output_bits, 1, signed=False, rounding="convergent", overflow="saturate")
