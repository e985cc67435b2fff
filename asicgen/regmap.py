"""The I2C register map (SPEC section 8), computed from the `Design`.

Byte-addressed, 16-bit addresses. The weight image sits at 0x0000 (one byte per
address); the control and status registers sit in the top page, so their
addresses do not move when the architecture (and the image size) changes. The
RTL register file, the Markdown table, the I2C transaction writer and the
behavioural register-file model all read this object.
"""

from __future__ import annotations

from dataclasses import dataclass

from asicgen.design import Design

REGISTER_BITS = 8
ID_VALUE = 0xAE
MAP_VERSION = 1

#: how software may access a field
ACCESS = {
    "ro": "read only; writes are acknowledged and ignored",
    "rw": "read/write",
    "w1c": "sticky; reads the flags, writing 1 clears a flag",
    "wclr": "read only counter; any write clears it",
}


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int
    access: str
    reset: int
    description: str
    #: legal values of a rw field; a write of any other value leaves the field unchanged
    legal: tuple[int, ...] = ()

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1


@dataclass(frozen=True)
class Register:
    name: str
    address: int
    description: str
    fields: tuple[Field, ...]

    @property
    def reset(self) -> int:
        return sum(f.reset << f.lsb for f in self.fields)

    @property
    def mask(self) -> int:
        return sum(f.mask for f in self.fields)


@dataclass(frozen=True)
class WeightWindow:
    base: int
    n_bytes: int
    n_words: int
    word_bits: int

    @property
    def last(self) -> int:
        return self.base + self.n_bytes - 1

    def contains(self, address: int) -> bool:
        return self.base <= address <= self.last

    def byte_mask(self, address: int) -> int:
        """Bits of the byte at `address` that hold weight bits (the last byte may be partial)."""
        used = self.n_words * self.word_bits - 8 * (address - self.base)
        return 0xFF if used >= 8 else (1 << used) - 1


@dataclass(frozen=True)
class RegisterMap:
    weights: WeightWindow
    registers: tuple[Register, ...]
    counter_bits: int

    @classmethod
    def for_design(cls, design: Design) -> RegisterMap:
        base = design.control_base
        mode_bits = max(m.elinks for m in design.elink_modes).bit_length()
        counter_bits = 2 * REGISTER_BITS
        registers = (
            Register("ID", base + 0, "identifies the IP", (
                Field("id", 0, 8, "ro", ID_VALUE, f"always 0x{ID_VALUE:02X}"),)),
            Register("VERSION", base + 1, "register map version", (
                Field("version", 0, 8, "ro", MAP_VERSION, "register map version"),)),
            Register("BUILD", base + 2, "what this build was generated with", (
                Field("ii", 0, 4, "ro", design.ii, "initiation interval in clocks"),
                Field("latency", 4, 4, "ro", design.latency, "latency in clocks"))),
            Register("ELINK_MODE", base + 3, "output width: the number of e-links", (
                Field("elinks", 0, mode_bits, "rw", design.default_elinks,
                      "e-links " + ", ".join(f"{m.elinks} ({m.kept_bits} bits per output)"
                                             for m in design.elink_modes),
                      legal=tuple(m.elinks for m in design.elink_modes)),)),
            Register("CTRL", base + 4, "processing control", (
                Field("enable", 0, 1, "rw", 1, "1: answer every valid module; 0: ae_valid stays low"),)),
            Register("TMR_ERR", base + 5, "sticky flags: a voter of this class saw disagreement", (
                Field("weights", 0, 1, "w1c", 0, "weight registers"),
                Field("config", 1, 1, "w1c", 0, "control registers"),
                Field("fsm", 2, 1, "w1c", 0, "state machines (I2C target)"),
                Field("datapath", 3, 1, "w1c", 0, "datapath pipeline registers"))),
            Register("UPSET_COUNT_LO", base + 6, "clocks in which any voter saw disagreement, bits 7:0", (
                Field("count_lo", 0, 8, "wclr", 0, "saturating; a write to either byte clears it"),)),
            Register("UPSET_COUNT_HI", base + 7, "upset counter, bits 15:8", (
                Field("count_hi", 0, 8, "wclr", 0, "saturating; a write to either byte clears it"),)),
        )
        window = WeightWindow(0, design.image_bytes, design.n_weights, design.weight_bits)
        return cls(window, registers, counter_bits)

    def register(self, name: str) -> Register:
        for reg in self.registers:
            if reg.name == name:
                return reg
        raise KeyError(name)

    def at(self, address: int) -> Register | None:
        for reg in self.registers:
            if reg.address == address:
                return reg
        return None

    def in_map(self, address: int) -> bool:
        return self.weights.contains(address) or self.at(address) is not None
