"""The converter block (SPEC section 3), exactly as the hardware applies it.

Charges arrive as 7-bit 4E3M codes; the converter decodes them, sums them,
normalises by the most significant bit of the sum (a shift, no divider) and
truncates each input to 8 bits (1 integer, 7 fraction). It also encodes the sum
as a 9-bit 5E4M float. All integer arithmetic.
"""

from __future__ import annotations

import numpy as np

from asicgen.core.codec import bit_length, decode_tc, encode_sum, encode_tc


def convert_codes(codes: np.ndarray, frac_bits: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """(..., 48) 4E3M codes -> ((..., 48) input integers, (...) 9-bit sum codes).

    Input integer i means the value i / 2**frac_bits. A module whose sum is zero
    gives all-zero inputs and sum code 0.
    """
    charges = decode_tc(codes)
    total = charges.sum(axis=-1)
    msb = np.maximum(bit_length(total) - 1, 0)
    inputs = (charges << frac_bits) >> msb[..., None]
    return inputs, encode_sum(total)


def convert_charges(charges: np.ndarray, frac_bits: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Raw CALQ charges -> 7-bit transport -> converter outputs."""
    return convert_codes(encode_tc(charges), frac_bits)
