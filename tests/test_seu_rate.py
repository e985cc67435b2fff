"""Upset-rate figures (`tmr.rate`, `asicgen seu-rate`, the flow's seu_rate.md): the formulas on
inventories small enough to work out by hand, the option checks, and the command on the
rtl_tmr folder `asicgen generate --tmr` writes for a small network."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from asicgen.cli import main
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.raw import ConfigError
from asicgen.core.weights import WeightSet
from tmr.rate import ClassBits, Environment, Inventory, figures, figures_markdown, figures_raw

SMALL = EncoderArch(conv_filters=2, dense_units=4)


# --- the formulas, by hand


def test_rates_of_a_small_inventory_worked_out_by_hand():
    # sigma 1e-13 cm2 x phi 1e6 cm-2 s-1: lambda = 1e-7 per bit per second; 40 MHz: T = 25 ns
    env = Environment(cross_section_cm2=1e-13, flux_cm2_s=1e6, clock_mhz=40, chips=4)
    inv = Inventory("toy", (ClassBits("weights", 10), ClassBits("fsm", 0)), single_bits=2)
    fig = figures(inv, env)
    weights, fsm = fig.classes
    assert weights.plain_per_hour == pytest.approx(10 * 1e-7 * 3600)  # 3.6e-3
    assert weights.corrected_per_hour == pytest.approx(3 * 10 * 1e-7 * 3600)  # 1.08e-2
    # lambda T = 2.5e-15 << 1: two of three replicas in one period, 3 (lambda T)^2 per period,
    # so 3 lambda^2 T per second per bit = 7.5e-22; 10 bits, 3600 s: 2.7e-17 per hour
    assert weights.uncorrected_per_hour == pytest.approx(2.7e-17, rel=1e-9)
    assert weights.mtbf_hours == pytest.approx(1 / 2.7e-17, rel=1e-9)
    assert fig.fleet_mtbf_hours(weights) == pytest.approx(1 / 2.7e-17 / 4, rel=1e-9)
    assert (fsm.plain_per_hour, fsm.uncorrected_per_hour, fsm.mtbf_hours) == (0, 0, math.inf)
    # single registers are not voted: every upset stays, none is counted as corrected
    assert fig.single.plain_per_hour == fig.single.uncorrected_per_hour == pytest.approx(2 * 1e-7 * 3600)
    assert fig.single.corrected_per_hour == 0
    assert fig.total.plain_per_hour == pytest.approx(12 * 1e-7 * 3600)
    assert fig.protected.uncorrected_per_hour == pytest.approx(2.7e-17, rel=1e-9)


def test_the_exact_form_holds_where_the_approximation_does_not():
    """lambda T = ln 2: each replica is upset within a period with p = 1/2, and two or three of
    three with 3 (1/2)^2 (1/2) + (1/2)^3 = 1/2 (the approximation 3 (lambda T)^2 would say 1.44)."""
    env = Environment(cross_section_cm2=1e-6, flux_cm2_s=math.log(2) / 1e-6 / 1e-6, clock_mhz=1)  # T = 1 us
    fig = figures(Inventory("toy", (ClassBits("config", 1),), 0), env)
    assert fig.classes[0].uncorrected_per_hour == pytest.approx(0.5 / 1e-6 * 3600, rel=1e-12)


def test_markdown_and_json_carry_the_figures():
    env = Environment(cross_section_cm2=1e-13, flux_cm2_s=1e6, chips=3, clock_mhz=40)
    fig = figures(Inventory("toy", (ClassBits("weights", 1000), ClassBits("spare", 0)), 2), env)
    text = figures_markdown(fig)
    assert "| weights | 1,000 | 0.36 | 1.08 | 2.7e-15 |" in text
    assert "| MTBF, one chip | MTBF, 3 chips |" in text and "| single (not voted) | 2 |" in text
    assert "assumed default" not in text  # neither default is in use here
    raw = json.loads(json.dumps(figures_raw(fig)))
    spare = raw["classes"][1]
    assert spare["mtbf_hours"] is None and spare["uncorrected_per_hour"] == 0
    assert raw["voted"]["bits"] == 1000 and raw["total"]["bits"] == 1002
    default_env = Environment(clock_mhz=40)
    default_text = figures_markdown(figures(Inventory("toy", (ClassBits("w", 1),), 0), default_env))
    assert "assumed default" in default_text and "arXiv:2411.03476" in default_text


# --- what is refused


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cross_section_cm2": 0.0}, "cross-section .* must be a positive finite number, got 0.0"),
    ({"cross_section_cm2": -1e-14}, "cross-section"),
    ({"flux_cm2_s": math.nan}, "flux .* got nan"),
    ({"flux_cm2_s": math.inf}, "flux .* got inf"),
    ({"clock_mhz": 0}, "clock frequency"),
    ({"clock_mhz": True}, "clock frequency .* got True"),
    ({"chips": 0}, "number of chips .* at least 1, got 0"),
    ({"chips": 2.5}, "number of chips"),
])
def test_environment_refuses_values_that_are_no_rate(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Environment(**{"clock_mhz": 40, **kwargs})


def _report(**changes) -> dict:
    raw = {"format": "asicgen-tmr-report/1", "top": "t", "classes": ["a", "b"],
           "registers": [{"name": "r", "width": 3, "policy": "full", "class": "a", "source": "x.v:1"}],
           "single": [{"name": "s", "width": 2, "source": "x.v:2"}]}
    raw.update(changes)
    return raw


def test_report_reader_counts_bits_per_class_in_report_order():
    regs = [{"name": "r1", "width": 3, "policy": "full", "class": "b"},
            {"name": "r2", "width": 5, "policy": "pipeline", "class": "b"}]
    inv = Inventory.from_report(_report(registers=regs), "rep.json")
    assert [(c.name, c.bits) for c in inv.classes] == [("a", 0), ("b", 8)]
    assert inv.single_bits == 2 and inv.design == "t"


@pytest.mark.parametrize(("changes", "message"), [
    ({"format": "other/1"}, r"rep.json.format: 'other/1' is not a TMR report"),
    ({"extra": 1}, r"rep.json: unknown key\(s\) extra"),
    ({"registers": [{"name": "r", "width": 0, "policy": "full", "class": "a"}]},
     r"rep.json.registers\[0\].width: 0 is below the minimum 1"),
    ({"registers": [{"name": "r", "width": 1, "policy": "none", "class": "a"}]},
     r"rep.json.registers\[0\].policy: 'none' is not one of full, full-shared, pipeline"),
    ({"registers": [{"name": "r", "width": 1, "policy": "full", "class": "z"}]},
     r"rep.json.registers\[0\].class: 'z' is not one of the report's classes"),
    ({"single": {"name": "s"}}, r"rep.json.single: expected a list, got dict"),
    ({"single": [{"name": "s", "width": "2"}]}, r"rep.json.single\[0\].width: expected an integer"),
])
def test_report_reader_names_what_is_wrong(changes, message):
    with pytest.raises(ConfigError, match=message):
        Inventory.from_report(_report(**changes), "rep.json")


@pytest.mark.parametrize(("option", "message"), [
    (["--cross-section", "0"], "argument --cross-section: the cross-section (cm2 per bit) must be a positive "
                               "finite number, got 0"),
    (["--flux=-2e7"], "argument --flux: the flux (cm-2 s-1) must be a positive finite number, got -2e7"),
    (["--flux", "inf"], "argument --flux: the flux (cm-2 s-1) must be a positive finite number, got inf"),
    (["--clock-mhz", "fast"], "argument --clock-mhz: expected a number, got 'fast'"),
    (["--chips", "0"], "argument --chips: the number of chips must be at least 1, got 0"),
])
def test_options_are_range_checked_before_any_work(option, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["seu-rate", str(tmp_path / "nowhere"), *option])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_folder_without_a_tmr_report_says_how_to_make_one(tmp_path, capsys):
    (tmp_path / "rtl").mkdir()
    assert main(["seu-rate", str(tmp_path / "rtl")]) == 2
    err = capsys.readouterr().err
    assert "holds no tmr_report.json" in err and "asicgen generate SOURCE --out OUT --tmr" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["seu-rate", str(tmp_path / "missing")]) == 2
    assert "missing: no such folder or file" in capsys.readouterr().err


# --- the command on a generated rtl_tmr folder


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """`asicgen generate --tmr` of a small network (188 weights): its output folder."""
    tmp = tmp_path_factory.mktemp("seu-rate")
    weights = WeightSet.random(Design.build(SMALL), np.random.default_rng(4))
    source = tmp / "weights.json"
    source.write_text(json.dumps({
        "format": "asicgen-weights/1", "region": "cee_high_eta", "elinks": 5, "architecture": SMALL.to_raw(),
        "tensors": {name: {"shape": list(arr.shape), "values": arr.reshape(-1).tolist()}
                    for name, arr in weights.tensors.items()}}))
    assert main(["generate", str(source), "--out", str(tmp / "ip"), "--tmr", "--no-hls"]) == 0
    return tmp / "ip"


def test_generated_tmr_report_json_agrees_with_the_markdown_report(generated):
    raw = json.loads((generated / "rtl_tmr" / "tmr_report.json").read_text())
    md = (generated / "rtl_tmr" / "tmr_report.md").read_text()
    protected, single = (sum(r["width"] for r in raw[key]) for key in ("registers", "single"))
    assert f"* registers triplicated: {len(raw['registers'])} ({protected} bits)" in md
    assert f"* registers left single: {len(raw['single'])} ({single} bits)" in md
    assert "tmr_report.json" in json.loads((generated / "rtl_tmr" / "manifest.json").read_text())["files"]


def test_seu_rate_command_on_a_generated_folder(generated, tmp_path, capsys):
    out = tmp_path / "rates.json"
    assert main(["seu-rate", str(generated / "rtl_tmr"), "--cross-section", "1e-13", "--flux", "1e6",
                 "--chips", "10", "--out", str(out)]) == 0
    raw = json.loads(out.read_text())
    rows = {r["class"]: r for r in raw["classes"]}
    assert list(rows) == ["weights", "config", "fsm", "datapath"]  # the TMR_ERR fields, in order
    lam, period = 1e-13 * 1e6, 25e-9
    # the weight register holds the whole image: 188 weights x 6 bits
    design = Design.build(SMALL)
    weights = rows["weights"]
    assert weights["bits"] == design.image_bits == 1128
    assert weights["plain_per_hour"] == pytest.approx(1128 * lam * 3600)
    assert weights["corrected_per_hour"] == pytest.approx(3 * 1128 * lam * 3600)
    assert weights["uncorrected_per_hour"] == pytest.approx(3 * lam ** 2 * period * 1128 * 3600, rel=1e-6)
    assert weights["mtbf_hours_all_chips"] == pytest.approx(weights["mtbf_hours"] / 10)
    # the two I2C pad synchronisers (SCL, SDA) of two flip-flops each are not voted: each domain
    # has its own, so an upset in one spoils one domain's view of the pad for a clock
    assert raw["single"]["bits"] == 0 and raw["per_domain"]["bits"] == 4
    assert raw["per_domain"]["uncorrected_per_hour"] < raw["per_domain"]["plain_per_hour"] == \
        pytest.approx(4 * lam * 3600)
    assert raw["total"]["bits"] == sum(r["bits"] for r in raw["classes"]) + 4
    assert "ae_top: plain" in capsys.readouterr().err


def test_seu_rate_prints_markdown_and_accepts_the_generate_folder(generated, capsys):
    assert main(["seu-rate", str(generated)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Upset rates: ae_top\n")
    assert "| weights | 1,128 |" in text and "| one copy per domain (pad synchronisers) | 4 |" in text


def test_seu_rate_output_policy(generated, tmp_path, capsys):
    mine = tmp_path / "notes.md"
    mine.write_text("mine")
    assert main(["seu-rate", str(generated), "--out", str(mine)]) == 2
    assert "is not a rate report file asicgen wrote" in capsys.readouterr().err and mine.read_text() == "mine"
    assert main(["seu-rate", str(generated), "--out", str(tmp_path / "rates.txt")]) == 2
    assert "give a .md or .json file name" in capsys.readouterr().err
    md = tmp_path / "rates.md"
    assert main(["seu-rate", str(generated), "--out", str(md)]) == 0
    assert main(["seu-rate", str(generated), "--out", str(md), "--chips", "3"]) == 0  # its own file: replaced
    assert "Generated by asicgen" in md.read_text() and "MTBF, 3 chips" in md.read_text()


def test_flow_writes_seu_rate_beside_rtl_tmr(generated, tmp_path):
    import shutil

    from asicgen.flow import write_seu_rate

    shutil.copytree(generated / "rtl_tmr", tmp_path / "rtl_tmr")
    line = write_seu_rate(tmp_path, "asicgen seu-rate flow/rtl_tmr --out flow/seu_rate.md")
    assert line.startswith("plain ") and "uncorrectable" in line and "4 bits one copy per domain" in line
    text = (tmp_path / "seu_rate.md").read_text()
    assert "Regenerate with: asicgen seu-rate flow/rtl_tmr" in text and "| weights | 1,128 |" in text


def test_tmr_command_writes_the_json_report_seu_rate_reads(tmp_path, capsys):
    """RTL asicgen did not write: `asicgen tmr` puts OUT.tmr.json beside OUT.tmr.md, and a
    12-bit accumulator gives 12 protected bits in the default policy's one class."""
    source = tmp_path / "acc.v"
    source.write_text("module acc (input clk, input [11:0] x, output reg [11:0] q);\n"
                      "  always @(posedge clk) q <= q + x;\nendmodule\n")
    assert main(["tmr", str(source), "-o", str(tmp_path / "acc_tmr.v")]) == 0
    report = tmp_path / "acc_tmr.tmr.json"
    assert main(["seu-rate", str(report), "--cross-section", "1e-13", "--flux", "1e6",
                 "--out", str(tmp_path / "acc.json")]) == 0
    raw = json.loads((tmp_path / "acc.json").read_text())
    assert [(r["class"], r["bits"]) for r in raw["classes"]] == [("full", 12)]
    assert raw["classes"][0]["plain_per_hour"] == pytest.approx(12 * 1e-7 * 3600)
    assert raw["single"]["bits"] == 0
    capsys.readouterr()
    # a second run replaces the JSON report it wrote; a foreign file of that name is refused
    assert main(["tmr", str(source), "-o", str(tmp_path / "acc_tmr.v")]) == 0
    (tmp_path / "other.tmr.json").write_text("{}")
    assert main(["tmr", str(source), "-o", str(tmp_path / "other.v")]) == 2
    assert "other.tmr.json exists and is not a TMR report" in capsys.readouterr().err
    assert not (tmp_path / "other.v").exists()
