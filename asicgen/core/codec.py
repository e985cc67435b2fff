"""Small unsigned floating-point codes used on the detector (SPEC sections 2, 3).

A code with E exponent bits and M mantissa bits is `code = e << M | m`, and
decodes to `m` when e == 0, else `(2^M + m) << (e - 1)`. Encoding truncates and
saturates at the largest code. The 7-bit TC charges use 4E3M, the 9-bit module
sum uses 5E4M.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def bit_length(values: np.ndarray) -> np.ndarray:
    """Exact bit length of non-negative integers (0 -> 0), as int64."""
    values = np.asarray(values, dtype=np.int64)
    length = np.zeros_like(values)
    rest = values.copy()
    while np.any(rest):
        length += rest > 0
        rest >>= 1
    return length


@dataclass(frozen=True)
class FloatCode:
    exponent_bits: int
    mantissa_bits: int

    @property
    def bits(self) -> int:
        return self.exponent_bits + self.mantissa_bits

    @property
    def max_code(self) -> int:
        return (1 << self.bits) - 1

    @property
    def max_value(self) -> int:
        return int(self.decode(np.array(self.max_code)))

    def decode(self, code: np.ndarray) -> np.ndarray:
        """Integer value of each code (int64)."""
        code = np.asarray(code, dtype=np.int64)
        if code.size and (code.min() < 0 or code.max() > self.max_code):
            raise ValueError(f"{self.bits}-bit code out of range 0..{self.max_code}")
        m_bits = self.mantissa_bits
        e = code >> m_bits
        m = code & ((1 << m_bits) - 1)
        big = ((1 << m_bits) + m) << np.maximum(e - 1, 0)
        return np.where(e == 0, m, big)

    def encode(self, value: np.ndarray) -> np.ndarray:
        """Truncating, saturating code of each non-negative integer (int64)."""
        value = np.asarray(value, dtype=np.int64)
        if value.size and value.min() < 0:
            raise ValueError("cannot encode a negative charge")
        m_bits = self.mantissa_bits
        small = value < (1 << m_bits)
        e = np.maximum(bit_length(value) - m_bits, 0)
        m = (value >> np.maximum(e - 1, 0)) & ((1 << m_bits) - 1)
        code = np.where(small, value, (e << m_bits) | m)
        return np.minimum(code, self.max_code)


#: TC charges on the links: 7 bits, 4-bit exponent + 3-bit mantissa.
TC_CODE = FloatCode(exponent_bits=4, mantissa_bits=3)
#: Module sum travelling with the payload: 9 bits, 5E4M.
SUM_CODE = FloatCode(exponent_bits=5, mantissa_bits=4)

#: Largest charge the 7-bit transport can represent (SPEC section 2).
MAX_TC_CHARGE = TC_CODE.max_value


def encode_tc(charges: np.ndarray) -> np.ndarray:
    return TC_CODE.encode(charges)


def decode_tc(codes: np.ndarray) -> np.ndarray:
    return TC_CODE.decode(codes)


def encode_sum(total: np.ndarray) -> np.ndarray:
    return SUM_CODE.encode(total)


def decode_sum(codes: np.ndarray) -> np.ndarray:
    return SUM_CODE.decode(codes)
