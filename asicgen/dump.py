"""Register dumps read back from a chip, compared with the weight image it should hold.

A dump is text, one byte per line: the register address and the byte read, both in hex
(`0x` optional), separated by blanks; `#` starts a comment; blank lines are ignored:

    # chip 12, read back after programming region cee_high_eta
    0x0000 0xef
    0x0001 52
    0xFF03 0x05

Addresses in the weight window are compared weight by weight: every weight whose bits
differ is named by its tensor and index, with the value expected and the value read.
Registers above the window are compared where the image fixes them (ID, VERSION, BUILD,
and ELINK_MODE as programmed); status registers (TMR_ERR, the upset counter) are listed,
not compared. Window bytes missing from the dump are reported as not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asicgen.core.design import Design
from asicgen.core.image import Image
from asicgen.core.raw import ConfigError
from asicgen.core.regmap import RegisterMap
from asicgen.core.weights import unpack_words

_LINE = re.compile(r"^(?:0[xX])?([0-9a-fA-F]+)\s+(?:0[xX])?([0-9a-fA-F]+)$")
#: registers whose value depends on the chip's history, not on the image
STATUS_ACCESS = ("w1c", "wclr")


class DumpError(ConfigError):
    """A dump or an image that cannot be compared; the message names the file and line."""


@dataclass(frozen=True)
class WeightDifference:
    tensor: str
    index: tuple[int, ...]
    word: int
    expected: int
    read: int
    addresses: tuple[int, ...]

    def describe(self) -> str:
        index = ",".join(map(str, self.index))
        where = ", ".join(f"0x{a:04X}" for a in self.addresses)
        return (f"{self.tensor}[{index}] (word {self.word}, byte{'s' if len(self.addresses) > 1 else ''} "
                f"{where}): expected {self.expected}, read {self.read}")


@dataclass(frozen=True)
class DumpComparison:
    weights: tuple[WeightDifference, ...]
    #: bits of the last window byte that hold no weight but read as 1
    padding: tuple[str, ...]
    registers: tuple[str, ...]
    status: tuple[str, ...]
    missing: tuple[int, ...]
    compared_bytes: int

    @property
    def ok(self) -> bool:
        return not (self.weights or self.padding or self.registers or self.missing)

    def report(self) -> str:
        lines = [f"{self.compared_bytes} bytes compared"]
        if self.missing:
            lines.append(f"{len(self.missing)} weight-window bytes not in the dump: {_ranges(self.missing)}")
        count = len(self.weights)
        lines += [f"{count} weight{' differs' if count == 1 else 's differ'}" if count
                  else "every weight read back equal"]
        lines += [f"  {d.describe()}" for d in self.weights]
        lines += [f"  {p}" for p in self.padding]
        lines += [f"register {r}" for r in self.registers]
        lines += [f"status {s} (not compared)" for s in self.status]
        return "\n".join(lines)


def _ranges(addresses: tuple[int, ...]) -> str:
    spans: list[list[int]] = []
    for a in addresses:
        if spans and a == spans[-1][1] + 1:
            spans[-1][1] = a
        else:
            spans.append([a, a])
    return ", ".join(f"0x{lo:04X}" if lo == hi else f"0x{lo:04X}-0x{hi:04X}" for lo, hi in spans)


def read_dump(path: Path) -> dict[int, int]:
    """{address: byte} of a dump file; a malformed line is refused with its number."""
    try:
        text = path.read_text()
    except OSError as err:
        raise DumpError(f"{path}: cannot read the dump ({err.strerror})") from err
    dump: dict[int, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise DumpError(f"{path}:{number}: expected '<address> <byte>' in hex, got {raw.strip()!r}")
        address, value = int(match[1], 16), int(match[2], 16)
        if address > 0xFFFF:
            raise DumpError(f"{path}:{number}: address 0x{address:X} is wider than 16 bits")
        if value > 0xFF:
            raise DumpError(f"{path}:{number}: 0x{value:X} at 0x{address:04X} is not a byte")
        if dump.get(address, value) != value:
            raise DumpError(f"{path}:{number}: 0x{address:04X} read twice with different values "
                            f"(0x{dump[address]:02X}, then 0x{value:02X})")
        dump[address] = value
    if not dump:
        raise DumpError(f"{path}: no '<address> <byte>' lines")
    return dump


def compare(dump: dict[int, int], image: Image) -> DumpComparison:
    design = image.design
    regmap = RegisterMap.for_design(design)
    window = regmap.weights
    expected_bytes = image.weights.image()
    registers_at = {r.address for r in regmap.registers}
    outside = sorted(a for a in dump if not window.contains(a) and a not in registers_at)
    if outside:
        raise DumpError(f"addresses outside the register map: {_ranges(tuple(outside))}")
    missing = tuple(a for a in range(window.base, window.base + window.n_bytes) if a not in dump)
    # bytes not read are taken as expected, so that only what was read can differ
    read_bytes = bytes(dump.get(window.base + j, expected_bytes[j]) for j in range(window.n_bytes))
    weights = _weight_differences(design, window.base, expected_bytes, read_bytes)
    padding = tuple(
        f"0x{window.base + j:04X}: bits 0x{read_bytes[j] & ~window.byte_mask(window.base + j) & 0xFF:02X} "
        "hold no weight but read as 1"
        for j in range(window.n_bytes) if read_bytes[j] & ~window.byte_mask(window.base + j) & 0xFF)
    registers, status = [], []
    for reg in regmap.registers:
        if reg.address not in dump:
            continue
        value = dump[reg.address]
        if reg.access in STATUS_ACCESS:
            status.append(f"{reg.name} = 0x{value:02X}")
            continue
        want = reg.encode(elinks=image.elinks) if reg.name == "ELINK_MODE" and image.elinks else reg.reset
        if value != want:
            registers.append(f"{reg.name} (0x{reg.address:04X}): expected 0x{want:02X}, read 0x{value:02X}")
    compared = sum(1 for a in dump if window.contains(a)) + sum(
        1 for r in regmap.registers if r.address in dump and r.access not in STATUS_ACCESS)
    return DumpComparison(weights, padding, tuple(registers), tuple(status), missing, compared)


def _weight_differences(design: Design, base: int, expected: bytes,
                        read: bytes) -> tuple[WeightDifference, ...]:
    bits = design.weight_bits
    want = unpack_words(expected, bits, design.n_weights, signed=True)
    got = unpack_words(read, bits, design.n_weights, signed=True)
    found = []
    for word in np.flatnonzero(want != got):
        tensor = next(t for t in design.tensors if t.first_word <= word < t.first_word + t.size)
        index = tuple(int(i) for i in np.unravel_index(int(word) - tensor.first_word, tensor.shape))
        first, last = word * bits // 8, (word * bits + bits - 1) // 8
        found.append(WeightDifference(tensor.name, index, int(word), int(want[word]), int(got[word]),
                                      tuple(base + j for j in range(first, last + 1))))
    return tuple(found)
