"""The ECON-T's non-ML algorithms at the autoencoder's bit budget (SPEC section 5).

Every baseline is a real encoder: it turns each module into a bit payload of at
most the budget (16 outputs x b bits: 48, 80, 112, 144 bits for 2..5 e-links;
the 9-bit module sum travels beside it, as for the autoencoder) and the
reconstruction is decoded from those bits alone.

* threshold: TCs at or above 1 MIP_T, in address order, as (address, value)
  slots; the readout truncates when the slots run out.
* best-choice: the N highest TCs (N = 4, 6, 9, 14 for 2..5 e-links) as
  (address, value) slots.
* stc4 / stc16: super-trigger cells, the sum of a 2x2 tile / a 16-TC block,
  with the position of its highest TC; the sum is placed on that TC.

Values are the converter's normalised 8-bit inputs (fractions of the module
sum's MSB), coded in the bits left per slot: exact with 8 or more bits, a
3-bit-exponent float with 4..7 bits, the top bits below that.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from asicgen.core.codec import FloatCode
from asicgen.core.geometry import BLOCK_SIDE, N_BLOCKS, N_TC, TCS_PER_BLOCK
from training.data import MIPT_COUNTS
from training.regions import elink_output_bits

BASELINE_NAMES = ("threshold", "best_choice", "stc4", "stc16")
#: best-choice slot counts per e-link budget (SPEC section 5)
BEST_CHOICE_SLOTS = {2: 4, 3: 6, 4: 9, 5: 14}
ADDRESS_BITS = 6
EMPTY_ADDRESS = (1 << ADDRESS_BITS) - 1
VALUE_BITS_FULL = 8
THRESHOLD_COUNTS = MIPT_COUNTS
ENCODER_OUTPUTS = 16


def budget_bits(elinks: int) -> int:
    return ENCODER_OUTPUTS * elink_output_bits(elinks)


@dataclass(frozen=True)
class ValueCode:
    """How an 8-bit normalised value is sent in `bits` bits."""

    bits: int

    @property
    def _float(self) -> FloatCode:
        return FloatCode(exponent_bits=3, mantissa_bits=self.bits - 3)

    def encode(self, value: np.ndarray) -> np.ndarray:
        value = np.minimum(np.asarray(value, dtype=np.int64), (1 << VALUE_BITS_FULL) - 1)
        if self.bits >= VALUE_BITS_FULL:
            return value
        if self.bits >= 4:
            return self._float.encode(value)
        return value >> (VALUE_BITS_FULL - self.bits)

    def decode(self, code: np.ndarray) -> np.ndarray:
        code = np.asarray(code, dtype=np.int64)
        if self.bits >= VALUE_BITS_FULL:
            return code
        if self.bits >= 4:
            return self._float.decode(code)
        return code << (VALUE_BITS_FULL - self.bits)


def _pack(fields: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """[(values (N,), width)] -> (N, total width) bits, MSB first per field."""
    columns = []
    for values, width in fields:
        values = np.asarray(values, dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() >= (1 << width)):
            raise ValueError(f"field value does not fit in {width} bits")
        shifts = np.arange(width - 1, -1, -1)
        columns.append((values[:, None] >> shifts) & 1)
    return np.concatenate(columns, axis=1).astype(np.uint8)


def _unpack(bits: np.ndarray, widths: list[int]) -> list[np.ndarray]:
    out, pos = [], 0
    for width in widths:
        chunk = bits[:, pos:pos + width].astype(np.int64)
        out.append((chunk << np.arange(width - 1, -1, -1)).sum(axis=1))
        pos += width
    return out


class Baseline:
    name: str

    def __init__(self, elinks: int):
        self.elinks = elinks
        self.budget = budget_bits(elinks)

    def encode(self, inputs: np.ndarray, charges: np.ndarray) -> np.ndarray:
        """(N, 48) converter integers and decoded charges -> (N, payload) bits."""
        raise NotImplementedError

    def decode(self, bits: np.ndarray) -> np.ndarray:
        """(N, payload) bits -> (N, 48) reconstructed normalised values."""
        raise NotImplementedError

    def reconstruct(self, inputs: np.ndarray, charges: np.ndarray) -> np.ndarray:
        bits = self.encode(inputs, charges)
        if bits.shape[1] > self.budget:
            raise AssertionError(f"{self.name}: payload {bits.shape[1]} bits over budget {self.budget}")
        return self.decode(bits)


class _SlotBaseline(Baseline):
    """(address, value) slots, N of them."""

    def __init__(self, elinks: int):
        super().__init__(elinks)
        self.slots = BEST_CHOICE_SLOTS[elinks]
        self.value = ValueCode(self.budget // self.slots - ADDRESS_BITS)

    def _select(self, inputs: np.ndarray, charges: np.ndarray) -> np.ndarray:
        """(N, slots) addresses, EMPTY_ADDRESS for unused slots."""
        raise NotImplementedError

    def encode(self, inputs: np.ndarray, charges: np.ndarray) -> np.ndarray:
        addresses = self._select(inputs, charges)
        used = addresses != EMPTY_ADDRESS
        safe = np.where(used, addresses, 0)
        values = np.where(used, self.value.encode(np.take_along_axis(inputs, safe, axis=1)), 0)
        fields = []
        for s in range(self.slots):
            fields += [(addresses[:, s], ADDRESS_BITS), (values[:, s], self.value.bits)]
        return _pack(fields)

    def decode(self, bits: np.ndarray) -> np.ndarray:
        widths = [ADDRESS_BITS, self.value.bits] * self.slots
        parts = _unpack(bits, widths)
        out = np.zeros((len(bits), N_TC))
        rows = np.arange(len(bits))
        for s in range(self.slots):
            address, code = parts[2 * s], parts[2 * s + 1]
            used = address < N_TC
            out[rows[used], address[used]] = self.value.decode(code[used])
        return out


class BestChoice(_SlotBaseline):
    name = "best_choice"

    def _select(self, inputs: np.ndarray, charges: np.ndarray) -> np.ndarray:
        # stable sort: among equal charges the lower address wins
        order = np.argsort(-charges, axis=1, kind="stable")
        return order[:, : self.slots]


class Threshold(_SlotBaseline):
    name = "threshold"

    def _select(self, inputs: np.ndarray, charges: np.ndarray) -> np.ndarray:
        above = charges >= THRESHOLD_COUNTS
        # addresses above threshold first, in address order; the rest are empty
        key = np.where(above, np.arange(N_TC), N_TC + np.arange(N_TC))
        order = np.argsort(key, axis=1)[:, : self.slots]
        kept = np.take_along_axis(above, order, axis=1)
        return np.where(kept, order, EMPTY_ADDRESS)


@cache
def stc_tiles(size: int) -> tuple[tuple[int, ...], ...]:
    """Non-overlapping tiles: 2x2 squares of each block's grid, or whole blocks."""
    if size == 16:
        return tuple(tuple(range(b * TCS_PER_BLOCK, (b + 1) * TCS_PER_BLOCK)) for b in range(N_BLOCKS))
    if size != 4:
        raise ValueError("super-trigger cells group 4 or 16 TCs")
    tiles = []
    for b in range(N_BLOCKS):
        for r in range(0, BLOCK_SIDE, 2):
            for c in range(0, BLOCK_SIDE, 2):
                base = b * TCS_PER_BLOCK + r * BLOCK_SIDE + c
                tiles.append((base, base + 1, base + BLOCK_SIDE, base + BLOCK_SIDE + 1))
    return tuple(tiles)


class SuperTriggerCell(Baseline):
    def __init__(self, elinks: int, size: int):
        super().__init__(elinks)
        self.name = f"stc{size}"
        self.tiles = np.array(stc_tiles(size))
        self.location_bits = int(np.log2(size))
        per_tile = self.budget // len(self.tiles) - self.location_bits
        self.value = ValueCode(min(per_tile, VALUE_BITS_FULL))

    def encode(self, inputs: np.ndarray, charges: np.ndarray) -> np.ndarray:
        fields = []
        for tile in self.tiles:
            location = np.argmax(charges[:, tile], axis=1)
            total = inputs[:, tile].sum(axis=1)
            fields += [(location, self.location_bits), (self.value.encode(total), self.value.bits)]
        return _pack(fields)

    def decode(self, bits: np.ndarray) -> np.ndarray:
        parts = _unpack(bits, [self.location_bits, self.value.bits] * len(self.tiles))
        out = np.zeros((len(bits), N_TC))
        rows = np.arange(len(bits))
        for t, tile in enumerate(self.tiles):
            location, code = parts[2 * t], parts[2 * t + 1]
            out[rows, tile[location]] = self.value.decode(code)
        return out


def make_baseline(name: str, elinks: int) -> Baseline:
    if name == "threshold":
        return Threshold(elinks)
    if name == "best_choice":
        return BestChoice(elinks)
    if name == "stc4":
        return SuperTriggerCell(elinks, 4)
    if name == "stc16":
        return SuperTriggerCell(elinks, 16)
    raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINE_NAMES)}")
