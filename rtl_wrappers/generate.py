"""SystemVerilog of the configuration interface: the I2C target and the register file.

`render_wrappers` writes two modules from the `Design` and its `RegisterMap`
(SPEC sections 8 and 11):

* `ae_i2c_target`: a 7-bit-address I2C target sampling SCL/SDA with the system
  clock (two-flop synchroniser, then a glitch filter), 16-bit register address
  MSB first, auto-increment, NACK outside the map, no clock stretching. It talks
  to the register file over a byte bus (`bus_addr_o`, `bus_we_o`, ...).
* `ae_regfile`: the weight image as one packed register (`naming.WEIGHTS_REGISTER`) and the
  control and status registers, with the semantics of
  `asicgen.core.i2c.RegisterFileModel`.

Every number the templates print (widths, addresses, reset values, legal-value
masks) is computed here; the templates only lay out the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from asicgen.core.design import ADDRESS_BITS, Design
from asicgen.core.i2c import DEFAULT_GLITCH_FILTER, RESET_IGNORE_CLOCKS, SYNC_STAGES
from asicgen.core.naming import PAD_SYNC_REGISTER, WEIGHTS_REGISTER, next_state
from asicgen.core.raw import ConfigError
from asicgen.core.regmap import REGISTER_BITS, Field, Register, RegisterMap
from asicgen.core.render import Stamp, environment, render

TARGET = "ae_i2c_target"
REGFILE = "ae_regfile"
FILES = {f"{TARGET}.sv": f"{TARGET}.sv.j2", f"{REGFILE}.sv": f"{REGFILE}.sv.j2"}

DEVICE_ADDRESS_BITS = 7
#: the byte a read returns outside the map (SDA released)
READ_MISS = 0xFF
#: names of the ports and registers the top level and the testbenches rely on
FLAG_SIGNAL = "tmr_err"
FLAG_INPUT = "tmr_flags_i"
COUNTER_SIGNAL = "upset_count"


@dataclass(frozen=True)
class RwField:
    """A read/write field: one register `<name>_q`, one output `<name>_o`."""

    name: str
    #: UpperCamelCase stem of the field's parameters
    param: str
    register: str
    address_param: str
    #: "[2:0] " or "" for one bit
    range: str
    msb: int
    lsb: int
    width: int
    reset: str
    #: bit v set = value v may be written
    legal_mask: str
    legal_text: str


@dataclass(frozen=True)
class FlagBit:
    index: int
    name: str
    bit: int


@dataclass(frozen=True)
class ReadPiece:
    msb: int
    lsb: int
    source: str


@dataclass(frozen=True)
class ReadEntry:
    name: str
    address_param: str
    address: str
    access: str
    pieces: tuple[ReadPiece, ...]


def sv_hex(value: int, bits: int) -> str:
    return f"{bits}'h{value:0{-(-bits // 4)}X}"


def sv_dec(value: int, bits: int) -> str:
    return f"{bits}'d{value}"


def sv_bin(value: int, bits: int) -> str:
    return f"{bits}'b{value:0{bits}b}"


def _address(value: int) -> str:
    return sv_hex(value, ADDRESS_BITS)


def camel(name: str) -> str:
    """UpperCamelCase of a register or field name: ELINK_MODE -> ElinkMode."""
    return "".join(part[:1].upper() + part[1:].lower() for part in name.split("_") if part)


def address_param(reg: Register) -> str:
    return f"Addr{camel(reg.name)}"


def sv_range(width: int) -> str:
    return f"[{width - 1}:0] " if width > 1 else ""


def _rw_field(reg: Register, f: Field) -> RwField:
    mask = sum(1 << v for v in f.legal or range(1 << f.width))
    text = ", ".join(map(str, f.legal)) if f.legal else "any"
    return RwField(f.name, camel(f.name), reg.name, address_param(reg), sv_range(f.width), f.msb, f.lsb,
                   f.width, sv_dec(f.reset, f.width), sv_bin(mask, 1 << f.width), text)


def regfile_context(design: Design) -> dict:
    """Template values of the register file; the layout rules it relies on are checked by the map."""
    regmap = RegisterMap.for_design(design)
    window = regmap.weights
    image_bits = window.bits
    image_bytes = window.n_bytes
    rw_fields: list[RwField] = []
    flag_register = regmap.flag_register
    flags = [FlagBit(i, f.name, f.lsb) for i, f in enumerate(flag_register.fields)]
    counter_registers = regmap.counter_registers
    reads: list[ReadEntry] = []
    for reg in regmap.registers:
        kind = reg.access
        pieces = []
        if kind == "ro":
            pieces = [ReadPiece(f.msb, f.lsb, sv_hex(f.reset, f.width)) for f in reg.fields]
        elif kind == "rw":
            for f in reg.fields:
                rw = _rw_field(reg, f)
                rw_fields.append(rw)
                pieces.append(ReadPiece(f.msb, f.lsb, f"{rw.name}_q"))
        elif kind == "w1c":
            pieces = [ReadPiece(f.msb, f.lsb, f"{FLAG_SIGNAL}_q[{flag.index}]")
                      for f, flag in zip(reg.fields, flags, strict=True)]
        elif kind == "wclr":
            lsb = REGISTER_BITS * counter_registers.index(reg)
            pieces = [ReadPiece(REGISTER_BITS - 1, 0,
                                f"{COUNTER_SIGNAL}_q[{lsb + REGISTER_BITS - 1}:{lsb}]")]
        else:
            raise ConfigError(f"register {reg.name}: access {kind!r} is not supported by the RTL")
        reads.append(ReadEntry(reg.name, address_param(reg), _address(reg.address), kind, tuple(pieces)))
    index_bits = max(1, (image_bytes - 1).bit_length())
    return {
        "module": REGFILE,
        "design_summary": design.summary(),
        "address_bits": ADDRESS_BITS,
        "register_bits": REGISTER_BITS,
        "image_bits": image_bits,
        "image_bytes": image_bytes,
        "full_bytes": image_bits // REGISTER_BITS,
        "tail_bits": image_bits % REGISTER_BITS,
        "pad_bits": REGISTER_BITS * image_bytes - image_bits,
        "image_bytes_literal": sv_dec(image_bytes, ADDRESS_BITS),
        "window_base": _address(window.base),
        "window_first": f"0x{window.base:04X}",
        "window_last": f"0x{window.last:04X}",
        "index_bits": index_bits,
        "word_bits": window.word_bits,
        "n_words": window.n_words,
        "rw_fields": rw_fields,
        "flag_register": flag_register.name,
        "flag_address_param": address_param(flag_register),
        "flags": flags,
        "n_flags": len(flags),
        "flag_signal": FLAG_SIGNAL,
        "flag_input": FLAG_INPUT,
        "counter_signal": COUNTER_SIGNAL,
        "counter_bits": regmap.counter_bits,
        "counter_registers": [{"name": r.name, "address_param": address_param(r)} for r in counter_registers],
        "counter_max": sv_hex(regmap.counter_max, regmap.counter_bits),
        "reads": reads,
        "read_miss": sv_hex(READ_MISS, REGISTER_BITS),
        "zero_byte": sv_hex(0, REGISTER_BITS),
        "weights_q": WEIGHTS_REGISTER,
        "weights_d": next_state(WEIGHTS_REGISTER),
    }


def target_context(design: Design, glitch_filter: int = DEFAULT_GLITCH_FILTER) -> dict:
    if glitch_filter < 1:
        raise ConfigError(f"glitch filter: at least 1 system clock, got {glitch_filter}")
    return {
        "module": TARGET,
        "design_summary": design.summary(),
        "glitch_filter": glitch_filter,
        "sync_stages": SYNC_STAGES,
        "reset_ignore_clocks": RESET_IGNORE_CLOCKS,
        "address_bits": ADDRESS_BITS,
        "address_max": sv_hex((1 << ADDRESS_BITS) - 1, ADDRESS_BITS),
        "address_one": sv_dec(1, ADDRESS_BITS),
        "device_bits": DEVICE_ADDRESS_BITS,
        "register_bits": REGISTER_BITS,
        "read_miss": sv_hex(READ_MISS, REGISTER_BITS),
        "sync_q": PAD_SYNC_REGISTER,
        "sync_d": next_state(PAD_SYNC_REGISTER),
    }


def render_wrappers(design: Design, stamp: Stamp,
                    glitch_filter: int = DEFAULT_GLITCH_FILTER) -> dict[str, str]:
    """{"ae_i2c_target.sv": text, "ae_regfile.sv": text}, each starting with the stamp."""
    env = environment(".", package="rtl_wrappers")
    contexts = {f"{TARGET}.sv": target_context(design, glitch_filter),
                f"{REGFILE}.sv": regfile_context(design)}
    return {name: render(env, template, stamp, name, **contexts[name]) for name, template in FILES.items()}


def wrapper_stamp(design: Design, command: str) -> Stamp:
    return Stamp(f"I2C target and register file: {design.summary()}", design.digest(), command)
