"""I2C write transactions for slow control, and a behavioural model of the target.

A transaction list is plain text a slow-control system can replay, one write per
line: `write 0x0000 0a 1b ...` = START, device address + W, register address
(16 bits, MSB first), the data bytes (auto-increment), STOP. Bursts default to
14 data bytes, so that address plus data fit the 16-byte multi-byte transfers of
the lpGBT and GBT-SCA I2C masters.

`RegisterFileModel` is what the RTL register file must do, byte for byte: it
replays transactions, and the cocotb scoreboards compare the RTL with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asicgen.core.raw import ConfigError
from asicgen.core.regmap import REGISTER_BITS, Register, RegisterMap

DEFAULT_BURST = 14
#: two-flop synchroniser on each pad input of the I2C target
SYNC_STAGES = 2
#: system clocks a level change on SCL/SDA must be stable before it is accepted
#: (3 clocks = 75 ns at 40 MHz, above the 50 ns spike suppression of fast mode)
DEFAULT_GLITCH_FILTER = 3
#: clocks after reset during which the target ignores line events, on top of the
#: synchroniser and the filter: their outputs must first hold the pads' real levels,
#: so that a reset in the middle of a transfer is not taken for a START
RESET_IGNORE_CLOCKS = 2
DEFAULT_DEVICE_ADDRESS = 0x50
TRANSACTIONS_FORMAT = "asicgen-i2c/1"


@dataclass(frozen=True)
class Write:
    address: int
    data: bytes


def image_writes(image: bytes, base: int = 0, burst: int = DEFAULT_BURST) -> list[Write]:
    if burst < 1:
        raise ConfigError(f"burst length must be at least 1 byte, got {burst}")
    return [Write(base + i, image[i:i + burst]) for i in range(0, len(image), burst)]


def format_transactions(writes: Sequence[Write], device_address: int, header: Iterable[str]) -> str:
    lines = [f"# {line}" if line else "#" for line in header]
    lines += [f"# format {TRANSACTIONS_FORMAT}; device 0x{device_address:02X} (7-bit); "
              "write <register address> <data bytes, auto-increment>",
              f"device 0x{device_address:02X}"]
    lines += [f"write 0x{w.address:04X} {w.data.hex(' ')}" for w in writes]
    return "\n".join(lines) + "\n"


def parse_transactions(text: str, where: str = "transactions") -> tuple[int, list[Write]]:
    device = DEFAULT_DEVICE_ADDRESS
    writes = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        try:
            if words[0] == "device" and len(words) == 2:
                device = int(words[1], 16)
            elif words[0] == "write" and len(words) >= 3:
                writes.append(Write(int(words[1], 16), bytes(int(b, 16) for b in words[2:])))
            else:
                raise ValueError("expected 'device 0xNN' or 'write 0xAAAA bytes...'")
        except ValueError as exc:
            raise ConfigError(f"{where}:{number}: {exc}: {line.strip()!r}") from None
    return device, writes


def read_transactions(path: Path) -> tuple[int, list[Write]]:
    return parse_transactions(Path(path).read_text(), str(path))


@dataclass
class RegisterFileModel:
    """The register file as seen over I2C: weights, control, status."""

    regmap: RegisterMap
    weight_bytes: bytearray = field(init=False)
    values: dict[str, int] = field(init=False)
    upset_count: int = field(init=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.weight_bytes = bytearray(self.regmap.weights.n_bytes)
        self.values = {r.name: r.reset for r in self.regmap.registers if not self._is_counter(r)}
        self.upset_count = 0

    @staticmethod
    def _is_counter(reg: Register) -> bool:
        return reg.access == "wclr"

    # -- bus-level operations -------------------------------------------------------

    def write(self, address: int, data: bytes) -> list[bool]:
        """One write transaction; returns the ACK of the address's low byte and of each data byte.

        An address outside the map is NACKed and nothing is written; a burst that
        runs out of the map is NACKed from the first byte outside it on.
        """
        if not self.regmap.in_map(address):
            return [False]
        acks = [True]
        for offset, byte in enumerate(data):
            target = address + offset
            if not self.regmap.in_map(target):
                return acks + [False]
            self.write_byte(target, byte)
            acks.append(True)
        return acks

    def read(self, address: int, count: int) -> bytes | None:
        """Write the address, repeated START, read `count` bytes; None when the address is NACKed.

        Reads that run out of the map return 0xFF (SDA released) and change nothing.
        """
        if not self.regmap.in_map(address):
            return None
        return bytes(self.read_byte(address + i) if self.regmap.in_map(address + i) else 0xFF
                     for i in range(count))

    def replay(self, writes: Iterable[Write]) -> None:
        for w in writes:
            acks = self.write(w.address, w.data)
            if not all(acks):
                raise ConfigError(f"write at 0x{w.address:04X}: byte {acks.index(False)} was NACKed "
                                  "(outside the register map)")

    # -- byte-level semantics ---------------------------------------------------------

    def write_byte(self, address: int, byte: int) -> None:
        window = self.regmap.weights
        if window.contains(address):
            self.weight_bytes[address - window.base] = byte & window.byte_mask(address)
            return
        reg = self.regmap.at(address)
        if reg is None:
            raise KeyError(f"0x{address:04X} is outside the register map")
        if self._is_counter(reg):
            self.upset_count = 0
            return
        value = self.values[reg.name]
        for f in reg.fields:
            new = (byte & f.mask) >> f.lsb
            if f.access == "rw" and (not f.legal or new in f.legal):
                value = (value & ~f.mask) | (new << f.lsb)
            elif f.access == "w1c":
                value &= ~(byte & f.mask)
        self.values[reg.name] = value

    def read_byte(self, address: int) -> int:
        window = self.regmap.weights
        if window.contains(address):
            return self.weight_bytes[address - window.base]
        reg = self.regmap.at(address)
        if reg is None:
            raise KeyError(f"0x{address:04X} is outside the register map")
        if self._is_counter(reg):
            shift = REGISTER_BITS * self.regmap.counter_registers.index(reg)
            return (self.upset_count >> shift) & 0xFF
        return self.values[reg.name]

    def field_value(self, register: str, name: str) -> int:
        return self.regmap.register(register).decode(self.values[register])[name]

    def weight_image(self) -> bytes:
        return bytes(self.weight_bytes)
