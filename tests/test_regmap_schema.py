"""The register map checks its own layout, names its registers and fields, and encodes register bytes."""

import itertools
import re
from dataclasses import replace

import pytest

from asicgen.core.arch import EncoderArch
from asicgen.core.design import SUPPORTED_II, Design
from asicgen.core.i2c import RegisterFileModel
from asicgen.core.regmap import Field, Register, RegisterMap, RegisterMapError, WeightWindow

BASE = RegisterMap.for_design(Design.build(EncoderArch()))
FLAGS = BASE.reg.TMR_ERR.fields


def _replaced(name: str, **changes) -> tuple[Register, ...]:
    return tuple(replace(r, **changes) if r.name == name else r for r in BASE.registers)


def _without(name: str) -> tuple[Register, ...]:
    return tuple(r for r in BASE.registers if r.name != name)


def _map(registers: tuple[Register, ...], counter_bits: int = BASE.counter_bits) -> RegisterMap:
    return RegisterMap(BASE.weights, registers, counter_bits)


def _raises(message: str):
    """The whole message, so that both the place and the problem are checked."""
    return pytest.raises(RegisterMapError, match="^" + re.escape(f"register map: {message}") + "$")


# -- broken maps -------------------------------------------------------------------------------------


def test_duplicate_address():
    with _raises("registers[5] 'TMR_ERR': address 0xFF05 already used by registers[4] 'CTRL'"):
        _map(_replaced("CTRL", address=BASE.reg.TMR_ERR.address))


def test_duplicate_register_name():
    spare = replace(BASE.reg.CTRL, address=0xFF10)
    with _raises("registers[8] 'CTRL': name already used by registers[4]"):
        _map(BASE.registers + (spare,))


def test_registers_in_address_order():
    registers = list(BASE.registers)
    registers[3], registers[4] = registers[4], registers[3]
    with _raises("registers[4] 'ELINK_MODE': address 0xFF03 is below that of registers[3] 'CTRL'; "
                 "registers are listed in address order"):
        _map(tuple(registers))


def test_overlapping_fields():
    with _raises("BUILD.fields[1] 'latency': bits 6:3 overlap fields[0] 'ii' (bits 3:0)"):
        Register("BUILD", 0xFF02, "", (Field("ii", 0, 4, "ro", 1, ""), Field("latency", 3, 4, "ro", 2, "")))


def test_duplicate_field_name():
    with _raises("TMR_ERR.fields[1] 'fsm': name already used by fields[0]"):
        Register("TMR_ERR", 0xFF05, "", (Field("fsm", 0, 1, "w1c", 0, ""), Field("fsm", 1, 1, "w1c", 0, "")))


def test_field_wider_than_the_register():
    fields = FLAGS[:2] + (Field("fsm", 2, 8, "w1c", 0, ""),) + FLAGS[3:]
    with _raises("TMR_ERR.fields[2] 'fsm': lsb 2 + width 8 exceeds the 8-bit register"):
        replace(BASE.reg.TMR_ERR, fields=fields)


@pytest.mark.parametrize(("field", "message"), [
    (dict(width=0), "width 0 is below 1"),
    (dict(lsb=-1), "lsb -1 is negative"),
    (dict(reset=16), "reset 16 does not fit 4 bits"),
    (dict(reset=-1), "reset -1 does not fit 4 bits"),
    (dict(access="rx"), "access 'rx' is not one of ro, rw, w1c, wclr"),
    (dict(name="not a name"),
     "the name must be an identifier not starting with '_' (it is used as an attribute)"),
])
def test_bad_field(field, message):
    name = field.get("name", "ii")
    with _raises(f"field {name!r}: {message}"):
        replace(BASE.reg.BUILD.field.ii, **field)


@pytest.mark.parametrize(("legal", "reset", "access", "message"), [
    ((2, 3, 8), 3, "rw", "legal values [8] do not fit 3 bits"),
    ((2, 3, 4), 5, "rw", "reset 5 is not one of the legal values [2, 3, 4]"),
    ((2, 3, 3), 3, "rw", "legal values [2, 3, 3] repeat a value"),
    ((2, 3, 4), 3, "ro", "legal values on a 'ro' field; only rw fields restrict writes"),
])
def test_illegal_legal_list(legal, reset, access, message):
    with _raises(f"field 'elinks': {message}"):
        Field("elinks", 0, 3, access, reset, "", legal=legal)


def test_register_address_outside_the_address_space():
    with _raises("CTRL: address 0x10004 is outside the 16-bit address space"):
        replace(BASE.reg.CTRL, address=0x10004)


def test_register_inside_the_weight_window():
    spare = Register("SPARE", 0x0010, "", (Field("spare", 0, 8, "rw", 0, ""),))
    last = BASE.weights.last
    with _raises(f"registers[0] 'SPARE': address 0x0010 is inside the weight window 0x0000..0x{last:04X}"):
        _map((spare,) + BASE.registers)


def test_mixed_access_kinds():
    fields = (Field("enable", 0, 1, "rw", 1, ""), Field("state", 1, 1, "ro", 0, ""))
    with _raises("CTRL: fields of different access kinds (ro, rw); "
                 "the RTL register file gives a register one kind"):
        Register("CTRL", 0xFF04, "", fields)


def test_sticky_flags_are_single_bits():
    with _raises("TMR_ERR.fields[1] 'config': a sticky flag must be 1 bit wide, not 2"):
        Register("TMR_ERR", 0xFF05, "", (FLAGS[0], replace(FLAGS[1], width=2)))


def test_counter_byte_is_one_full_field():
    with _raises("UPSET_COUNT_LO: a counter byte must be one 8-bit field"):
        replace(BASE.reg.UPSET_COUNT_LO, fields=(Field("count_lo", 0, 7, "wclr", 0, ""),))


@pytest.mark.parametrize("name", ["ID", "VERSION", "BUILD", "ELINK_MODE", "CTRL", "TMR_ERR",
                                  "UPSET_COUNT_LO", "UPSET_COUNT_HI"])
def test_missing_required_register(name):
    # without a counter byte the counter-size rule would also fail; the required one is checked first
    with _raises(f"{name}: required register is missing (the RTL and the testbenches address it)"):
        _map(_without(name))


def test_missing_required_field():
    with _raises("TMR_ERR: required field 'fsm' is missing"):
        _map(_replaced("TMR_ERR", fields=FLAGS[:2] + FLAGS[3:]))


def test_required_register_of_the_wrong_kind():
    with _raises("CTRL: access 'ro'; the RTL and the testbenches rely on 'rw'"):
        _map(_replaced("CTRL", fields=(Field("enable", 0, 1, "ro", 1, ""),)))


def test_one_register_of_sticky_flags():
    extra = Register("MORE_ERR", 0xFF10, "", (Field("more", 0, 1, "w1c", 0, ""),))
    with _raises("registers[8] 'MORE_ERR': a second register of sticky flags after registers[5] 'TMR_ERR'; "
                 "the RTL register file has one"):
        _map(BASE.registers + (extra,))


@pytest.mark.parametrize(("counter_bits", "message"), [
    (12, "counter_bits: the upset counter (12 bits) must fill whole registers"),
    (0, "counter_bits: the upset counter (0 bits) must fill whole registers"),
    (24, "counter_bits: the 24-bit upset counter needs 3 counter registers, the map has 2"),
])
def test_counter_size(counter_bits, message):
    with _raises(message):
        _map(BASE.registers, counter_bits)


def test_counter_bytes_are_consecutive_low_first():
    moved = _replaced("UPSET_COUNT_HI", address=0xFF08)
    with _raises("UPSET_COUNT_HI: counter byte at 0xFF08 does not follow UPSET_COUNT_LO at 0xFF06"):
        _map(moved)
    lo, hi = BASE.reg.UPSET_COUNT_LO, BASE.reg.UPSET_COUNT_HI
    swapped = BASE.registers[:6] + (replace(hi, address=lo.address), replace(lo, address=hi.address))
    with _raises("counter_bits: the counter bytes are UPSET_COUNT_HI, UPSET_COUNT_LO in address order; "
                 "UPSET_COUNT_LO must be the first, UPSET_COUNT_HI the last"):
        _map(swapped)


def test_weight_window_holds_the_image():
    with _raises("weights: 4 bytes do not hold 6 words of 6 bits exactly (5 bytes)"):
        WeightWindow(0, 4, 6, 6)
    with _raises("weights: 0xFFFF..0x10000 is outside the 16-bit address space"):
        WeightWindow(0xFFFF, 2, 2, 8)


def test_errors_are_value_errors():
    assert issubclass(RegisterMapError, ValueError)


# -- named access ------------------------------------------------------------------------------------


def test_registers_and_fields_by_attribute():
    assert BASE.reg.TMR_ERR is BASE.register("TMR_ERR")
    assert BASE.reg.TMR_ERR.address == 0xFF05
    assert BASE.reg.BUILD.field.latency == BASE.reg.BUILD.fields[1]
    assert [r.name for r in BASE.reg] == [r.name for r in BASE.registers]
    assert "CTRL" in BASE.reg and "NOPE" not in BASE.reg and len(BASE.reg.TMR_ERR.field) == 4
    with pytest.raises(AttributeError, match="no register 'TMR_ERRS' .known: ID, VERSION, BUILD"):
        _ = BASE.reg.TMR_ERRS
    with pytest.raises(AttributeError, match="no field of BUILD 'iii' .known: ii, latency."):
        _ = BASE.reg.BUILD.field.iii
    with pytest.raises(KeyError):
        BASE.register("NOPE")


# -- encode / decode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [r.name for r in BASE.registers])
def test_encode_decode_round_trip(name):
    reg = BASE.reg[name]
    for values in itertools.product(*(range(1 << f.width) for f in reg.fields)):
        fields = dict(zip((f.name for f in reg.fields), values, strict=True))
        byte = reg.encode(**fields)
        assert reg.decode(byte) == fields
    for byte in range(256):
        assert reg.encode(**reg.decode(byte)) == byte & reg.mask
    assert reg.encode() == reg.reset


def test_encode_places_fields_and_rejects_bad_values():
    build = BASE.reg.BUILD
    assert build.encode(ii=0x3, latency=0xA) == 0xA3
    assert build.encode(latency=0) == BASE.reg.BUILD.field.ii.reset
    assert BASE.reg.TMR_ERR.encode(fsm=1, weights=1) == 0b0101
    with pytest.raises(ValueError, match=r"BUILD.ii: 16 does not fit 4 bits"):
        build.encode(ii=16)
    with pytest.raises(ValueError, match=r"BUILD: no field 'lat' \(fields: ii, latency\)"):
        build.encode(lat=1)
    with pytest.raises(ValueError, match="BUILD: 256 is not a 8-bit register value"):
        build.decode(256)


@pytest.mark.parametrize("ii", SUPPORTED_II)
def test_build_register_holds_the_design_ii_and_latency(ii):
    design = Design.build(EncoderArch(), ii)
    regmap = RegisterMap.for_design(design)
    byte = RegisterFileModel(regmap).read(regmap.reg.BUILD.address, 1)[0]
    assert regmap.reg.BUILD.decode(byte) == {"ii": ii, "latency": design.latency}
    assert design.latency == 1 + ii


def test_counter_value_from_a_burst_read():
    regmap = BASE
    model = RegisterFileModel(regmap)
    model.upset_count = 0x1234
    data = model.read(regmap.reg.UPSET_COUNT_LO.address, len(regmap.counter_registers))
    assert regmap.counter_value(data) == 0x1234
    assert regmap.counter_max == 0xFFFF
    with pytest.raises(ValueError, match="the upset counter is 2 bytes, got 3"):
        regmap.counter_value(bytes(3))
