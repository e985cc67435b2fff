"""Synthesis onto a real cell library (osu018) with OpenSTA: the reader, the flow, the report."""

import json

import numpy as np
import pytest

from asicgen import liberty, sta, synth
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet
from training.data import generate
from training.regions import DEFAULT_REGION, preset
from verif.activity import measure_activity

SMALL = EncoderArch(conv_filters=2, dense_units=4)


def _library() -> liberty.Library:
    try:
        return liberty.read_library("osu018")
    except liberty.LibertyError as exc:
        pytest.skip(str(exc))


def _need_sta() -> None:
    if sta.find_sta() is None:
        pytest.skip("OpenSTA (`sta`) not installed: install the Debian package opensta")


@pytest.mark.parametrize("function, inputs, table", [
    ("(((A B)+(B C))+(C A))", ["A", "B", "C"], (0, 0, 0, 1, 0, 1, 1, 1)),
    ("((A^B)^C)", ["A", "B", "C"], (0, 1, 1, 0, 1, 0, 0, 1)),
    ("(!(A B))", ["A", "B"], (1, 1, 1, 0)),
    ("!A + B'", ["A", "B"], (1, 1, 1, 0)),
    ("(A * B) | !C", ["A", "B", "C"], (1, 0, 1, 0, 1, 0, 1, 1)),
])
def test_functions_are_read_as_truth_tables(function, inputs, table):
    assert liberty.truth_table(function, inputs) == table


def test_a_function_naming_another_pin_is_refused():
    with pytest.raises(liberty.LibertyError, match="'Q', not an input"):
        liberty.truth_table("A & Q", ["A", "B"])


def test_a_file_that_is_not_liberty_is_refused(tmp_path):
    bogus = tmp_path / "cells.lib"
    bogus.write_text("module x; endmodule\n")
    with pytest.raises(liberty.LibertyError, match="no cell groups"):
        liberty.read_library(str(bogus))
    with pytest.raises(liberty.LibertyError, match="no such file"):
        liberty.read_library(str(tmp_path / "missing.lib"))


def test_osu018_cells_are_recognised_by_function():
    lib = _library()
    assert lib.nand2 == "NAND2X1" and lib.nand2_area == 24 and lib.inverter == "INVX1"
    assert lib.full_adder == liberty.AdderCell("FAX1", ("A", "B", "C"), "YC", "YS")
    assert lib.half_adder == liberty.AdderCell("HAX1", ("A", "B"), "YC", "YS")
    assert lib.flops({"DFFSR": 3, "DFFPOSX1": 2, "NAND2X1": 7}) == 5
    assert lib.area({"NAND2X1": 2, "FAX1": 1}) == 2 * 24 + 120
    techmap = liberty.adder_techmap(lib)
    assert "FAX1 adder" in techmap and "HAX1 adder" in techmap


def test_timing_and_power_reports_are_parsed():
    text = """Startpoint: u_core/x_q_reg (rising edge-triggered flip-flop clocked by clk)
Endpoint: u_core/y_q_reg (rising edge-triggered flip-flop clocked by clk)
Path Group: clk
   8.123   data arrival time
  24.801   data required time
  16.678   slack (MET)
"""
    timing = sta.parse_timing(text)
    assert (timing.arrival_ns, timing.slack_ns, timing.met) == (8.123, 16.678, True)
    assert timing.startpoint == "u_core/x_q_reg"
    power = sta.parse_power("Total                  1.0e-03   2.5e-03   3.0e-06   3.503e-03 100.0%\n",
                            0.1, "test")
    assert power.total_w == pytest.approx(3.503e-3) and power.leakage_w == pytest.approx(3e-6)
    assert (power.activity, power.how) == (0.1, "test")
    with pytest.raises(sta.StaError, match="no complete timing path"):
        sta.parse_timing("nothing here")
    notes = " ".join(sta.constraint_notes())
    assert "25 ns" in notes and "scl_i" in notes


@pytest.mark.slow
def test_small_network_maps_times_and_keeps_every_replica(tmp_path):
    """CI's check of the cell-library flow: the small network at II=8, plain and hardened,
    mapped onto osu018 and timed with OpenSTA; every replica survives the mapping."""
    lib = _library()
    _need_sta()
    design = Design.build(SMALL).with_ii(8)
    rng = np.random.default_rng(3)
    charges = generate(preset(DEFAULT_REGION), seed=5, modules=300).calq
    measured = []

    def measure(d, rtl_dir, work):
        measured.append(measure_activity(WeightSet.random(d, rng), charges, d.default_elinks, rtl_dir, work,
                                         "test data"))
        return measured[-1]

    plain, hardened = synth.synthesise(design, tmp_path / "w", library=lib, measure=measure, tmr=True,
                                       dot_structure="csa")
    (activity,) = measured
    assert activity.cycles >= 300 * 8 and 0 < activity.datapath < 1 and activity.bits > 100
    for r in (plain, hardened):
        power = r.sta["power"]
        assert 0 < power["activity"] < activity.datapath and power["total_w"] > power["leakage_w"] > 0
        assert r.library == "osu018" and r.area_um2 > 0
        assert r.nand2_eq == pytest.approx(r.area_um2 / 24, rel=1e-3)
        assert r.cells_by_type.get("FAX1", 0) > 100, "adders mapped onto the library's full adder"
        timing = r.sta["timing"]
        assert 0 < timing["arrival_ns"] < 25 * 3 and timing["slack_ns"] == pytest.approx(
            25 - timing["arrival_ns"], abs=1.0)
    assert plain.flops >= design.image_bits
    assert hardened.flops > 2.5 * plain.flops and hardened.survival.startswith("flip-flops after synthesis")
    md, js = synth.write_report(tmp_path / "report", design, [plain, hardened], "test")
    rows = json.loads(js.read_text())["results"]
    assert [r["build"] for r in rows] == ["plain", "hardened"]
    text = md.read_text()
    assert "| 8 | plain | csa |" in text and "| 8 | hardened | csa |" in text and "NAND2 eq." in text


def test_synth_names_a_missing_library(tmp_path, capsys):
    from asicgen.cli import main

    assert main(["synth", "default", "--ii", "8", "--out", str(tmp_path / "s"), "--liberty", "osu099"]) != 0
    assert "cell library osu099: no such file (named libraries: osu018" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_sta_record_names_what_was_not_run():
    """A synthesis without an activity run has timing and no power: the record has both keys, so
    the report writes "not run" instead of failing on a missing one."""
    assert sta.to_raw(None, None) == {"timing": None, "power": None}
