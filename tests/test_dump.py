"""`asicgen region diff`: a register dump read back from a chip against the image it should hold."""

from pathlib import Path

import numpy as np
import pytest

from asicgen.cli import main
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.image import load_image, write_image
from asicgen.core.regmap import RegisterMap
from asicgen.core.weights import WeightSet
from asicgen.dump import DumpError, compare, read_dump

SMALL = Design.build(EncoderArch(conv_filters=2, dense_units=4))
ELINKS = SMALL.elink_modes[0].elinks


@pytest.fixture()
def image_dir(tmp_path: Path) -> tuple[Path, WeightSet]:
    weights = WeightSet.random(SMALL, np.random.default_rng(7))
    write_image(tmp_path / "image", weights, ELINKS, "test")
    return tmp_path / "image", weights


def _dump_text(image: bytes, extra: dict[int, int] | None = None, skip: tuple[int, ...] = ()) -> str:
    lines = ["# read back over I2C", ""]
    lines += [f"0x{a:04X} 0x{b:02x}" for a, b in enumerate(image) if a not in skip]
    lines += [f"{a:04x} {b:02X}  # register" for a, b in (extra or {}).items()]
    return "\n".join(lines) + "\n"


def _with_weight(weights: WeightSet, tensor: str, index: tuple[int, ...], value: int) -> WeightSet:
    arrays = {name: np.array(weights[name]) for name in weights.tensors}
    arrays[tensor][index] = value
    return WeightSet.from_arrays(SMALL, arrays)


def test_a_faithful_dump_compares_equal(image_dir, tmp_path):
    folder, weights = image_dir
    regmap = RegisterMap.for_design(SMALL)
    registers = {regmap.reg.ID.address: regmap.reg.ID.reset,
                 regmap.reg.ELINK_MODE.address: regmap.reg.ELINK_MODE.encode(elinks=ELINKS),
                 regmap.reg.TMR_ERR.address: 0x03}
    dump = tmp_path / "dump.txt"
    dump.write_text(_dump_text(weights.image(), registers))
    result = compare(read_dump(dump), load_image(folder))
    assert result.ok, result.report()
    assert result.compared_bytes == SMALL.image_bytes + 2
    assert result.status == ("TMR_ERR = 0x03",)


def test_a_corrupted_dump_names_each_differing_weight(image_dir, tmp_path):
    """The weights are changed in the tensors, not in the bytes: the names come from the design."""
    folder, weights = image_dir
    tensors = SMALL.tensors
    changed = {(tensors[0].name, (0, 1, 0, 1)): None, (tensors[-1].name, (tensors[-1].shape[0] - 1,)): None}
    corrupted = weights
    for tensor, index in changed:
        spec = next(t for t in tensors if t.name == tensor)
        old = int(weights[tensor][index])
        new = spec.type.max_code if old != spec.type.max_code else spec.type.min_code
        changed[tensor, index] = (old, new)
        corrupted = _with_weight(corrupted, tensor, index, new)
    dump = tmp_path / "dump.txt"
    dump.write_text(_dump_text(corrupted.image()))
    result = compare(read_dump(dump), load_image(folder / "weights.bin"))
    assert not result.ok
    found = {(d.tensor, d.index): (d.expected, d.read) for d in result.weights}
    assert found == changed
    text = result.report()
    for tensor, index in changed:
        assert f"{tensor}[{','.join(map(str, index))}]" in text


def test_missing_bytes_and_registers_are_reported(image_dir, tmp_path):
    folder, weights = image_dir
    regmap = RegisterMap.for_design(SMALL)
    other = next(m.elinks for m in SMALL.elink_modes if m.elinks != ELINKS)
    dump = tmp_path / "dump.txt"
    dump.write_text(_dump_text(weights.image(), {regmap.reg.ELINK_MODE.address: other,
                                                 regmap.reg.VERSION.address: 0x7F}, skip=(3, 4, 5, 9)))
    result = compare(read_dump(dump), load_image(folder))
    assert not result.ok and not result.weights
    assert result.missing == (3, 4, 5, 9)
    assert "0x0003-0x0005, 0x0009" in result.report()
    assert [r.split(" ")[0] for r in result.registers] == ["VERSION", "ELINK_MODE"]


@pytest.mark.parametrize("line, problem", [
    ("0x0000", "expected '<address> <byte>' in hex"),
    ("0x0000 0x1FF", "is not a byte"),
    ("0x10000 0x01", "wider than 16 bits"),
    ("zz 01", "expected '<address> <byte>' in hex"),
])
def test_a_malformed_dump_line_is_refused_with_its_number(tmp_path, line, problem):
    dump = tmp_path / "dump.txt"
    dump.write_text(f"# header\n0x0001 0x02\n{line}\n")
    with pytest.raises(DumpError, match=rf"dump.txt:3: .*{problem}"):
        read_dump(dump)


def test_conflicting_reads_and_addresses_outside_the_map(image_dir, tmp_path):
    folder, _ = image_dir
    dump = tmp_path / "dump.txt"
    dump.write_text("0x0001 0x02\n0x0001 0x03\n")
    with pytest.raises(DumpError, match="dump.txt:2: 0x0001 read twice"):
        read_dump(dump)
    outside = SMALL.image_bytes + 5
    dump.write_text(f"0x{outside:04X} 0x00\n")
    with pytest.raises(DumpError, match=f"outside the register map: 0x{outside:04X}"):
        compare(read_dump(dump), load_image(folder))


def test_cli_exit_codes(image_dir, tmp_path, capsys):
    folder, weights = image_dir
    dump = tmp_path / "dump.txt"
    dump.write_text(_dump_text(weights.image()))
    assert main(["region", "diff", str(dump), str(folder)]) == 0
    bad = bytearray(weights.image())
    bad[0] ^= 0x01
    dump.write_text(_dump_text(bytes(bad)))
    assert main(["region", "diff", str(dump), str(folder)]) == 1
    assert "1 weight differs" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["region", "diff", str(dump), str(tmp_path / "empty")]) == 2
    assert "not a weight image written by asicgen" in capsys.readouterr().err
