"""The architecture description: derived numbers, and what it refuses."""

import pytest

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.raw import ConfigError


def test_default_design_numbers_match_the_spec():
    d = Design.build(EncoderArch())
    assert d.n_weights == 2288 and d.image_bits == 13728 and d.image_bytes == 1716
    assert (d.conv.macs, d.dense.macs) == (2400, 2048)
    assert d.latency == 2 and d.ii == 1
    assert [(m.elinks, m.kept_bits) for m in d.elink_modes] == [(2, 3), (3, 5), (4, 7), (5, 9)]
    assert [(t.name, t.first_word, t.size) for t in d.tensors] == [
        ("conv_kernel", 0, 216), ("conv_bias", 216, 8), ("dense_kernel", 224, 2048), ("dense_bias", 2272, 16)]
    # unsigned 8-bit x signed 6-bit products summed over 27 taps + bias: 14 + 5 bits
    assert (d.conv.acc_type.bits, d.conv.acc_type.frac_bits) == (19, 12)
    assert (d.dense.acc_type.bits, d.dense.acc_type.frac_bits) == (22, 12)
    assert d.conv.output_type.rounding == "convergent" and d.conv.output_type.overflow == "saturate"


def test_8x8_design_uses_tensorflow_same_padding_for_stride_2():
    d = Design.build(EncoderArch.preset("8x8"))
    assert d.n_weights == 2144
    # TensorFlow pads an even input with stride 2 at the bottom/right only
    assert (d.conv.pad_top, d.conv.pad_left) == (0, 0)
    assert [t[2:] for t in d.conv.taps(0, 0)] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2),
                                                  (2, 0), (2, 1), (2, 2)]
    assert len(d.conv.taps(3, 3)) == 4


@pytest.mark.parametrize("ii", [1, 2, 4, 8])
def test_latency_is_one_converter_clock_plus_ii_encoder_clocks(ii):
    d = Design.build(EncoderArch(), ii)
    assert d.latency == 1 + ii and d.positions_per_phase * ii == 16


def test_raw_round_trip_and_digest():
    d = Design.build(EncoderArch.preset("8x8"), 4)
    again = Design.from_raw(d.to_raw())
    assert again == d and again.digest() == d.digest()
    assert Design.build(EncoderArch(), 2).digest() != Design.build(EncoderArch(), 1).digest()


@pytest.mark.parametrize(("raw", "message"), [
    ({"architecture": {}, "ii": 3}, r"design.ii: initiation interval 3 is not supported"),
    ({"architecture": {}, "II": 2}, r"design: unknown key\(s\) II"),
    ({"architecture": {"weight_bits": 17}}, r"weight_bits: 17-bit weights do not fit the register map"),
    ({"architecture": {"dense_units": 40000}}, r"need \d+ bytes, more than the"),
    ({"architecture": {"output_bits": 2}}, r"output_bits: 2 bits cannot carry"),
    ({"architecture": {"conv_kernel": 2}}, r"conv_kernel: must be odd"),
    ({"architecture": {"layout": "5x5"}}, r"layout: '5x5' is not one of"),
])
def test_impossible_designs_are_refused_with_the_path(raw, message):
    with pytest.raises(ConfigError, match=message):
        Design.from_raw(raw)


def test_ii_that_does_not_divide_the_positions_is_refused():
    with pytest.raises(ConfigError, match="8 clocks cannot share the 2x2 convolution positions"):
        Design.build(EncoderArch(layout="4x4x3", conv_stride=2), 8)
