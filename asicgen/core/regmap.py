"""The I2C register map (SPEC section 8), computed from the `Design`.

Byte-addressed, 16-bit addresses. The weight image sits at 0x0000 (one byte per
address); the control and status registers sit in the top page, so their
addresses do not move when the architecture (and the image size) changes. The
RTL register file, the Markdown table, the I2C transaction writer and the
behavioural register-file model all read this object.

The map checks itself when it is built: every rule the RTL register file, the
model and the testbenches rely on (the registers they address by name, field
layouts, one access kind per register, the counter and flag shapes) fails here
with a `RegisterMapError` naming the register or field, not later as a wrong
template or a confusing simulation mismatch. Registers and fields are reached
by name as attributes: `regmap.reg.BUILD.field.ii`.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, NoReturn, TypeVar

from asicgen.core.design import ADDRESS_BITS, Design

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

#: registers the RTL, the register-file model, the TMR policy and the testbenches address by
#: name: their access kind and the fields they read or drive
REQUIRED: dict[str, tuple[str, tuple[str, ...]]] = {
    "ID": ("ro", ("id",)),
    "VERSION": ("ro", ("version",)),
    "BUILD": ("ro", ("ii", "latency")),
    "ELINK_MODE": ("rw", ("elinks",)),
    "CTRL": ("rw", ("enable",)),
    "TMR_ERR": ("w1c", ("weights", "config", "fsm", "datapath")),
    "UPSET_COUNT_LO": ("wclr", ()),
    "UPSET_COUNT_HI": ("wclr", ()),
}


class RegisterMapError(ValueError):
    """The register map breaks a rule the RTL, the model or the testbenches rely on."""


def _fail(where: str, problem: str) -> NoReturn:
    raise RegisterMapError(f"register map: {where}: {problem}")


def _check_name(name: str, where: str) -> None:
    # names become attributes (regmap.reg.NAME) and SystemVerilog identifiers
    if not name.isidentifier() or name.startswith("_") or keyword.iskeyword(name):
        _fail(where, "the name must be an identifier not starting with '_' (it is used as an attribute)")


def _bits(msb: int, lsb: int) -> str:
    return f"bits {msb}:{lsb}" if msb != lsb else f"bit {lsb}"


_Item = TypeVar("_Item", "Field", "Register")


class Named(Generic[_Item]):
    """Registers or fields by name, as attributes (`regmap.reg.TMR_ERR`) or keys; iterates in map order."""

    __slots__ = ("_kind", "_items")

    def __init__(self, kind: str, items: Iterable[_Item]) -> None:
        self._kind = kind
        self._items = {item.name: item for item in items}

    def __getattr__(self, name: str) -> _Item:
        # reached only for names that are not slots: private ones are never items, and refusing
        # them keeps copy/pickle probes from recursing before the slots are set
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._items[name]
        except KeyError:
            raise AttributeError(f"no {self._kind} {name!r} (known: {', '.join(self._items)})") from None

    def __getitem__(self, name: str) -> _Item:
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[_Item]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __dir__(self) -> list[str]:
        return list(self._items)

    def __repr__(self) -> str:
        return f"Named({self._kind}: {', '.join(self._items)})"


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

    def __post_init__(self) -> None:
        where = f"field {self.name!r}"
        _check_name(self.name, where)
        if self.lsb < 0:
            _fail(where, f"lsb {self.lsb} is negative")
        if self.width < 1:
            _fail(where, f"width {self.width} is below 1")
        if self.access not in ACCESS:
            _fail(where, f"access {self.access!r} is not one of {', '.join(ACCESS)}")
        if not self.fits(self.reset):
            _fail(where, f"reset {self.reset} does not fit {self.width} bits")
        if self.legal:
            self._check_legal(where)

    def _check_legal(self, where: str) -> None:
        if self.access != "rw":
            _fail(where, f"legal values on a {self.access!r} field; only rw fields restrict writes")
        bad = [v for v in self.legal if not self.fits(v)]
        if bad:
            _fail(where, f"legal values {bad} do not fit {self.width} bits")
        if len(set(self.legal)) != len(self.legal):
            _fail(where, f"legal values {list(self.legal)} repeat a value")
        if self.reset not in self.legal:
            _fail(where, f"reset {self.reset} is not one of the legal values {list(self.legal)}")

    def fits(self, value: int) -> bool:
        return 0 <= value < 1 << self.width

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

    def __post_init__(self) -> None:
        _check_name(self.name, f"register {self.name!r}")
        if not 0 <= self.address < 1 << ADDRESS_BITS:
            _fail(self.name, f"address 0x{self.address:X} is outside the {ADDRESS_BITS}-bit address space")
        if not self.fields:
            _fail(self.name, "no fields")
        for i, f in enumerate(self.fields):
            self._check_field(i, f)
        kinds = sorted({f.access for f in self.fields})
        if len(kinds) != 1:
            # the RTL register file decodes a whole register by one access kind
            _fail(self.name, f"fields of different access kinds ({', '.join(kinds)}); "
                             "the RTL register file gives a register one kind")
        if self.access == "w1c":
            for i, f in enumerate(self.fields):
                if f.width != 1:
                    _fail(self._where(i), f"a sticky flag must be 1 bit wide, not {f.width}")
        if self.access == "wclr" and (len(self.fields) != 1 or self.fields[0].width != REGISTER_BITS):
            _fail(self.name, f"a counter byte must be one {REGISTER_BITS}-bit field")

    def _where(self, index: int) -> str:
        return f"{self.name}.fields[{index}] {self.fields[index].name!r}"

    def _check_field(self, index: int, f: Field) -> None:
        where = self._where(index)
        if f.msb >= REGISTER_BITS:
            _fail(where, f"lsb {f.lsb} + width {f.width} exceeds the {REGISTER_BITS}-bit register")
        for j, other in enumerate(self.fields[:index]):
            if other.name == f.name:
                _fail(where, f"name already used by fields[{j}]")
            if other.mask & f.mask:
                _fail(where, f"{_bits(f.msb, f.lsb)} overlap fields[{j}] {other.name!r} "
                             f"({_bits(other.msb, other.lsb)})")

    @property
    def access(self) -> str:
        """The access kind of every field (one per register)."""
        return self.fields[0].access

    @cached_property
    def field(self) -> Named[Field]:
        return Named(f"field of {self.name}", self.fields)

    @property
    def reset(self) -> int:
        return sum(f.reset << f.lsb for f in self.fields)

    @property
    def mask(self) -> int:
        return sum(f.mask for f in self.fields)

    def encode(self, **values: int) -> int:
        """The register byte holding these field values; fields not named keep their reset value."""
        unknown = [name for name in values if name not in self.field]
        if unknown:
            raise ValueError(f"{self.name}: no field {', '.join(map(repr, unknown))} "
                             f"(fields: {', '.join(f.name for f in self.fields)})")
        value = 0
        for f in self.fields:
            v = values.get(f.name, f.reset)
            if not f.fits(v):
                raise ValueError(f"{self.name}.{f.name}: {v} does not fit {f.width} bits")
            value |= v << f.lsb
        return value

    def decode(self, value: int) -> dict[str, int]:
        """Field values of a register byte, by name in field order; bits outside the fields are ignored."""
        if not 0 <= value < 1 << REGISTER_BITS:
            raise ValueError(f"{self.name}: {value} is not a {REGISTER_BITS}-bit register value")
        return {f.name: (value & f.mask) >> f.lsb for f in self.fields}


@dataclass(frozen=True)
class WeightWindow:
    base: int
    n_bytes: int
    n_words: int
    word_bits: int

    def __post_init__(self) -> None:
        if self.n_words < 1 or self.word_bits < 1:
            _fail("weights", f"{self.n_words} words of {self.word_bits} bits: need at least one word "
                             "of at least one bit")
        need = -(-self.bits // REGISTER_BITS)
        if self.n_bytes != need:
            _fail("weights", f"{self.n_bytes} bytes do not hold {self.n_words} words of {self.word_bits} "
                             f"bits exactly ({need} bytes)")
        if self.base < 0 or self.last >= 1 << ADDRESS_BITS:
            _fail("weights", f"0x{self.base:X}..0x{self.last:X} is outside the {ADDRESS_BITS}-bit "
                             "address space")

    @property
    def bits(self) -> int:
        """Weight bits in the window: the packed image."""
        return self.n_words * self.word_bits

    @property
    def last(self) -> int:
        return self.base + self.n_bytes - 1

    def contains(self, address: int) -> bool:
        return self.base <= address <= self.last

    def byte_mask(self, address: int) -> int:
        """Bits of the byte at `address` that hold weight bits (the last byte may be partial)."""
        used = self.bits - 8 * (address - self.base)
        return 0xFF if used >= 8 else (1 << used) - 1


@dataclass(frozen=True)
class RegisterMap:
    weights: WeightWindow
    registers: tuple[Register, ...]
    counter_bits: int

    def __post_init__(self) -> None:
        self._check_placement()
        self._check_required()
        self._check_flags()
        self._check_counter()

    def _where(self, index: int) -> str:
        return f"registers[{index}] {self.registers[index].name!r}"

    def _check_placement(self) -> None:
        window = self.weights
        for i, reg in enumerate(self.registers):
            for j, other in enumerate(self.registers[:i]):
                if other.name == reg.name:
                    _fail(self._where(i), f"name already used by registers[{j}]")
                if other.address == reg.address:
                    _fail(self._where(i), f"address 0x{reg.address:04X} already used by {self._where(j)}")
            if window.contains(reg.address):
                _fail(self._where(i), f"address 0x{reg.address:04X} is inside the weight window "
                                      f"0x{window.base:04X}..0x{window.last:04X}")
            if i and reg.address < self.registers[i - 1].address:
                # the table, the model's bursts and the testbenches' read spans follow address order
                _fail(self._where(i), f"address 0x{reg.address:04X} is below that of {self._where(i - 1)}; "
                                      "registers are listed in address order")

    def _check_required(self) -> None:
        for name, (access, fields) in REQUIRED.items():
            if name not in self.reg:
                _fail(name, "required register is missing (the RTL and the testbenches address it)")
            reg = self.reg[name]
            if reg.access != access:
                _fail(name, f"access {reg.access!r}; the RTL and the testbenches rely on {access!r}")
            missing = [f for f in fields if f not in reg.field]
            if missing:
                _fail(name, f"required field {', '.join(map(repr, missing))} is missing")

    def _check_flags(self) -> None:
        flags = [i for i, reg in enumerate(self.registers) if reg.access == "w1c"]
        if len(flags) > 1:
            _fail(self._where(flags[1]), f"a second register of sticky flags after {self._where(flags[0])}; "
                                         "the RTL register file has one")

    def _check_counter(self) -> None:
        if self.counter_bits < REGISTER_BITS or self.counter_bits % REGISTER_BITS:
            _fail("counter_bits", f"the upset counter ({self.counter_bits} bits) must fill whole registers")
        counter = self.counter_registers
        if len(counter) * REGISTER_BITS != self.counter_bits:
            _fail("counter_bits", f"the {self.counter_bits}-bit upset counter needs "
                                  f"{self.counter_bits // REGISTER_BITS} counter registers, "
                                  f"the map has {len(counter)}")
        # one burst read from UPSET_COUNT_LO returns the whole counter, low byte first
        if counter[0].name != "UPSET_COUNT_LO" or counter[-1].name != "UPSET_COUNT_HI":
            _fail("counter_bits", f"the counter bytes are {', '.join(r.name for r in counter)} in address "
                                  "order; UPSET_COUNT_LO must be the first, UPSET_COUNT_HI the last")
        for low, high in zip(counter, counter[1:], strict=False):
            if high.address != low.address + 1:
                _fail(high.name, f"counter byte at 0x{high.address:04X} does not follow {low.name} "
                                 f"at 0x{low.address:04X}")

    @classmethod
    def for_design(cls, design: Design) -> RegisterMap:
        base = design.control_base
        mode_bits = design.elink_mode_bits
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

    @cached_property
    def reg(self) -> Named[Register]:
        return Named("register", self.registers)

    def register(self, name: str) -> Register:
        """The register called `name` (KeyError if none); `reg.NAME` is the checked spelling."""
        return self.reg[name]

    @property
    def flag_register(self) -> Register:
        """The register of sticky TMR flags, one bit per error class."""
        return self.reg.TMR_ERR

    @property
    def counter_registers(self) -> tuple[Register, ...]:
        """The upset counter's bytes, low byte first (map order)."""
        return tuple(reg for reg in self.registers if reg.access == "wclr")

    @property
    def counter_max(self) -> int:
        """Where the saturating upset counter stops."""
        return (1 << self.counter_bits) - 1

    def counter_value(self, data: bytes) -> int:
        """The upset counter from its registers' bytes, read in one burst in address order."""
        if len(data) != len(self.counter_registers):
            raise ValueError(f"the upset counter is {len(self.counter_registers)} bytes, got {len(data)}")
        return int.from_bytes(data, "little")

    def at(self, address: int) -> Register | None:
        for reg in self.registers:
            if reg.address == address:
                return reg
        return None

    def in_map(self, address: int) -> bool:
        return self.weights.contains(address) or self.at(address) is not None
