"""Logic synthesis with yosys (asicgen.synth) and the streaming throughput testbench."""

import json

import numpy as np
import pytest

from asicgen import synth
from asicgen.cli import main
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet
from asicgen.rtl import generate_rtl
from verif.tb_throughput import compare, pack_rows, run_throughput
from verif.vectors import standard_vectors

#: a small encoder: 2 filters, 4 outputs (188 weights, 728 MACs)
SMALL = EncoderArch(conv_filters=2, dense_units=4)


def _need_yosys() -> None:
    try:
        synth.find_yosys()
    except synth.SynthError as exc:
        pytest.skip(str(exc))


def test_gate_equivalents_and_flops():
    # NAND2 = 1 GE; XOR = 12 transistors; flip-flop with async reset and enable = 32
    assert synth.gate_equivalents({"$_NAND_": 10, "$_XOR_": 1, "$_NOT_": 2}) == 10 + 3 + 1
    assert synth.flop_transistors("$_DFFE_PN0P_") == 32 and synth.flop_transistors("$_DFF_P_") == 16
    assert synth.flop_transistors("$_AND_") is None
    assert synth.count_flops({"$_DFFE_PN0P_": 3, "$_DFF_PN1_": 2, "$_MUX_": 7}) == 5
    with pytest.raises(synth.SynthError, match="no gate-equivalent weight"):
        synth.gate_equivalents({"$_FANCY_": 1})


def test_hierarchy_totals_multiply_instances():
    modules = {"\\top": {"num_cells_by_type": {"leaf": 3, "$_AND_": 1}},
               "\\leaf": {"num_cells_by_type": {"$_AND_": 2, "$_XOR_": 1}}}
    totals = synth.hierarchy_totals(modules)
    assert totals["top"] == {"$_AND_": 7, "$_XOR_": 3}
    assert synth.parse_depth("Longest topological path in ae_top (length=42):\n") == 42


def test_synthesis_of_a_small_design_is_sane(tmp_path):
    """The flow runs end to end: every weight bit is a flip-flop, sharing (II=4) saves gates."""
    _need_yosys()
    design = Design.build(SMALL)
    results = [synth.synthesise(design.with_ii(ii), tmp_path, flow="noabc")[0] for ii in (1, 4)]
    for r in results:
        assert r.flops >= design.image_bits, r
        assert r.cells > r.flops and r.gate_equivalents > r.cells / 2 and 10 < r.depth < 1000, r
        assert r.block_ge["register file"] > design.image_bits * 5
    assert results[0].latency == 2 and results[1].latency == 5
    assert results[0].cells > results[1].cells
    assert results[0].block_ge["datapath"] > results[1].block_ge["datapath"]
    md, js = synth.write_report(tmp_path / "report", design, results, "test")
    rows = json.loads(js.read_text())["results"]
    assert [r["ii"] for r in rows] == [1, 4] and rows[1]["ge_ratio"] < 1
    assert "| 4 | 5 |" in md.read_text() and "Gate equivalents" in md.read_text()


@pytest.mark.slow
def test_synth_command_on_the_default_design(tmp_path):
    """`asicgen synth` with the ABC flow on the default design at II=8: all 13,728 weight bits."""
    _need_yosys()
    out = tmp_path / "synth"
    assert main(["synth", "default", "--ii", "8", "--out", str(out), "--no-depth"]) == 0
    (row,) = json.loads((out / "synth.json").read_text())["results"]
    assert row["flow"] == "abc" and row["ii"] == 8
    assert row["flops"] >= 13_728 and row["block_ge"]["register file"] > 13_728 * 5
    assert "| 8 | 9 |" in (out / "synth.md").read_text()


def test_synth_refuses_a_directory_that_is_not_rtl(tmp_path):
    with pytest.raises(synth.SynthError, match="not an RTL directory written by asicgen"):
        synth.synthesise_rtl(tmp_path)


# -- the throughput testbench -------------------------------------------------------


def test_packing_and_comparison():
    rows = np.array([[1, 2, 3], [127, 0, 5]])
    assert pack_rows(rows, 7) == [1 | 2 << 7 | 3 << 14, 127 | 5 << 14]
    assert compare(["0011", "0101"], [3, 5]) == (0, [])
    count, notes = compare(["0011", "01x1", "0110"], [3, 5, 7])
    assert count == 2 and "module 1" in notes[0] and "x" in notes[0]
    assert compare(["0011"], [3, 5])[0] == 1  # a missing output
    assert compare(["0011", "0101"], [3])[0] == 1  # an extra output


@pytest.fixture(scope="module")
def small_stream(tmp_path_factory):
    design = Design.build(SMALL, 2)
    weights = WeightSet.random(design, np.random.default_rng(5))
    codes = standard_vectors(design, per_region=40, seed=4, random_rows=100).codes[:400]
    build = tmp_path_factory.mktemp("throughput")
    generate_rtl(build / "rtl", design, "test")
    return design, weights, codes, build


def test_throughput_bench_is_bit_exact(small_stream):
    design, weights, codes, build = small_stream
    r = run_throughput(design, weights, codes, build / "rtl", build, optimise=False)
    assert r.modules == len(codes) == r.checked and r.mismatches == 0, r.first_mismatches
    assert r.modules_per_s > 0


@pytest.mark.slow
def test_carry_save_rtl_streams_bit_exact(small_stream, tmp_path):
    """The carry-save dot products (`--dot csa`) give the same outputs as the model."""
    design, weights, codes, _ = small_stream
    generate_rtl(tmp_path / "rtl", design, "test", "csa")
    assert "g_tree0" in (tmp_path / "rtl" / "ae_dot.sv").read_text()
    r = run_throughput(design, weights, codes, tmp_path / "rtl", tmp_path, optimise=False)
    assert r.modules == len(codes) == r.checked and r.mismatches == 0, r.first_mismatches


def test_throughput_bench_detects_a_mismatch(small_stream):
    """The model gets one dense bias changed: the outputs that depend on it must mismatch."""
    design, weights, codes, build = small_stream
    words = weights.words().copy()
    first = design.dense.bias_tensor.first_word
    words[first] = (words[first] + 17) % 32 - 16
    r = run_throughput(design, weights, codes, build / "rtl", build,
                       model_weights=WeightSet.from_words(design, words), optimise=False)
    assert r.checked == len(codes) and r.mismatches > 0 and r.first_mismatches
