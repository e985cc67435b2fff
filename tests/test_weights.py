"""Weight image packing, the weights file, I2C transactions and the register-file model."""

import json

import numpy as np
import pytest

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.i2c import RegisterFileModel, Write, parse_transactions, read_transactions
from asicgen.core.image import transactions, write_image
from asicgen.core.raw import ConfigError
from asicgen.core.regmap import RegisterMap
from asicgen.core.weights import WeightSet, load_weights_file, pack_words, unpack_words

DESIGN = Design.build(EncoderArch())


def test_packing_follows_the_spec_bit_layout():
    # word n at stream bits 6n..6n+5, byte j = stream bits 8j..8j+7
    image = pack_words(np.array([1, 1, -1, 0]), 6)
    assert image == bytes([0x41, 0xF0, 0x03])
    assert unpack_words(image, 6, 4, signed=True).tolist() == [1, 1, -1, 0]
    assert unpack_words(bytes([0x20]), 6, 1, signed=True).tolist() == [-32]


def test_image_round_trip_with_random_weights():
    weights = WeightSet.random(DESIGN, np.random.default_rng(1))
    image = weights.image()
    assert len(image) == 1716
    assert WeightSet.from_image(DESIGN, image).equals(weights)


def test_weight_that_does_not_fit_its_field_is_an_error():
    arrays = {t.name: np.zeros(t.shape, np.int64) for t in DESIGN.tensors}
    arrays["dense_kernel"][5, 3] = 32
    with pytest.raises(ConfigError, match=r"weights.dense_kernel\[5, 3\]: code 32 does not fit its 6-bit "
                                          r"register field \(-32..31\)"):
        WeightSet.from_arrays(DESIGN, arrays)
    arrays["dense_kernel"][5, 3] = 0
    arrays["conv_bias"] = np.zeros(7, np.int64)
    with pytest.raises(ConfigError, match=r"conv_bias: shape \(7,\) does not match the architecture"):
        WeightSet.from_arrays(DESIGN, arrays)


@pytest.mark.slow
def test_trained_weights_survive_image_and_unpack(trained_networks, tmp_path):
    from asicgen.sources import load_network

    network = load_network(trained_networks["default"])
    write_image(tmp_path / "img", network.weights, network.elinks, "test")
    image = (tmp_path / "img" / "weights.bin").read_bytes()
    unpacked = WeightSet.from_image(network.design, image)
    raw = json.loads((trained_networks["default"] / "weights.json").read_text())
    for name, tensor in raw["tensors"].items():
        assert unpacked[name].reshape(-1).tolist() == tensor["values"], name
    # the transaction file replayed into the register file gives back the image
    device, writes = read_transactions(tmp_path / "img" / "weights_i2c.txt")
    model = RegisterFileModel(RegisterMap.for_design(network.design))
    model.replay(writes)
    assert device == 0x50 and model.weight_image() == image
    assert model.field_value("ELINK_MODE", "elinks") == network.elinks


def test_weights_file_errors_name_the_file(tmp_path, trained_networks):
    raw = json.loads((trained_networks["default"] / "weights.json").read_text())
    raw["tensors"]["conv_bias"]["values"][0] = 5 if raw["tensors"]["conv_bias"]["values"][0] != 5 else 4
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match=rf"{path}.sha256: the recorded hash does not match"):
        load_weights_file(path)
    raw["tensors"]["conv_bias"]["values"][0] = 99
    path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match=r"conv_bias\[0\]: code 99 does not fit"):
        load_weights_file(path)
    path.write_text("{ not json")
    with pytest.raises(ConfigError, match=rf"{path}:1: invalid JSON"):
        load_weights_file(path)


# -- I2C transactions and the register-file model ------------------------------------------------

REGMAP = RegisterMap.for_design(DESIGN)


def test_transactions_cover_the_image_in_bursts_then_set_the_mode():
    weights = WeightSet.random(DESIGN, np.random.default_rng(2))
    writes = transactions(weights, elinks=3, burst=14)
    assert sum(len(w.data) for w in writes[:-1]) == 1716 and all(len(w.data) <= 14 for w in writes)
    assert writes[-1] == Write(REGMAP.register("ELINK_MODE").address, bytes([3]))
    with pytest.raises(ConfigError, match="e-link mode 7 is not supported"):
        transactions(weights, elinks=7)


def test_transaction_text_errors_name_the_line():
    with pytest.raises(ConfigError, match=r"slow.txt:2: .*'write 0xZZ 01'"):
        parse_transactions("device 0x50\nwrite 0xZZ 01\n", "slow.txt")


def test_register_file_semantics():
    model = RegisterFileModel(REGMAP)
    ident, mode = REGMAP.register("ID").address, REGMAP.register("ELINK_MODE").address
    assert model.read(ident, 2) == bytes([0xAE, 1])
    assert model.write(ident, bytes([0])) == [True, True] and model.read(ident, 1) == bytes([0xAE])
    assert model.write(mode, bytes([7])) == [True, True] and model.field_value("ELINK_MODE", "elinks") == 5
    model.write(mode, bytes([2]))
    assert model.field_value("ELINK_MODE", "elinks") == 2
    # sticky flags clear on write 1 only; the counter clears on any write
    err = REGMAP.register("TMR_ERR")
    model.values["TMR_ERR"] = 0b1011
    model.write(err.address, bytes([0b0001]))
    assert model.values["TMR_ERR"] == 0b1010
    model.upset_count = 0x1234
    assert model.read(REGMAP.register("UPSET_COUNT_LO").address, 2) == bytes([0x34, 0x12])
    model.write(REGMAP.register("UPSET_COUNT_HI").address, bytes([0]))
    assert model.upset_count == 0


def test_writes_outside_the_map_are_nacked_without_side_effects():
    model = RegisterFileModel(REGMAP)
    before = model.weight_image()
    assert model.write(0x06B4, bytes([1, 2])) == [False]
    assert model.write(0x8000, bytes([1])) == [False]
    assert model.read(0x06B4, 1) is None
    # a burst running off the end of the weights is NACKed from the first byte outside
    assert model.write(0x06B2, bytes([0xAA, 0xBB, 0xCC, 0xDD])) == [True, True, True, False]
    after = model.weight_image()
    assert after[:-2] == before[:-2] and after[-2:] == bytes([0xAA, 0xBB])
    assert model.read(0x06B3, 3) == bytes([0xBB, 0xFF, 0xFF])
