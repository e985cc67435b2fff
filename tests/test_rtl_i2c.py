"""The I2C target and register file RTL: cocotb tests against the model, lint, synthesis."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.i2c import DEFAULT_GLITCH_FILTER
from rtl_wrappers.generate import REGFILE, TARGET, render_wrappers, wrapper_stamp
from tmr.yosys import YosysError, run_yosys, yosys_command
from verif.i2c_fuzz import EVENTS as FUZZ_EVENTS
from verif.i2c_launch import WRAPPER, run_i2c, write_wrappers
from verif.i2c_timing import predicted_scl_cycles
from verif.params import wrapper_parameters
from verif.runner import verilator_environment

#: 62 weights of 6 bits = 372 bits: 47 bytes, the last holding 4 weight bits
SMALL_ARCH = EncoderArch(conv_filters=1, dense_units=2)
#: everything except the full-image test, which runs on the default design only
SHORT_TESTS = ["test_reset_state", "test_partial_and_burst_writes", "test_burst_off_the_end",
               "test_illegal_addresses", "test_read_only_registers", "test_elink_mode_and_enable",
               "test_tmr_flags_and_upset_counter", "test_repeated_start_reads", "test_speeds",
               "test_start_stop_anywhere", "test_glitch_filter_threshold", "test_glitches_during_transfer",
               "test_reset_mid_transaction", "test_fast_load_path", "test_checker_detects_mismatch"]


def write_rtl(design: Design, out: Path) -> list[Path]:
    return write_wrappers(design, out, "pytest tests/test_rtl_i2c.py")


def run_tb(design: Design, build: Path, tests: list[str] | None, test_module: str = "verif.tb_i2c",
           **config) -> dict:
    timing = build / "i2c_timing.json"
    cfg = {"scl_hz": 400e3, "full_image_scl_hz": 1e6, "seed": 7, "timing_file": str(timing), **config}
    result = run_i2c(write_rtl(design, build / "rtl"), design, build / "sim", test_module, tests, **cfg)
    report = {"tests": result.tests, "failed": result.failed, "build_s": round(result.build_seconds, 1),
              "run_s": round(result.run_seconds, 1), "per_test": per_test_times(result.results_xml)}
    if timing.exists():
        report["full_image"] = json.loads(timing.read_text())
    print(json.dumps(report, indent=1), file=sys.stderr)
    return report


def per_test_times(xml: Path) -> dict[str, dict]:
    """{test: {"result", "sim_ms", "wall_s"}} from the summary table of the cocotb log."""
    log = xml.parent / f"sim_{xml.stem.removeprefix('results_')}.log"
    row = re.compile(r"\*\*\s+[\w.]+\.(test_\w+)\s+(PASS|FAIL|SKIP)\s+([\d.]+)\s+([\d.]+)")
    times = {}
    for name, result, sim_ns, wall in row.findall(log.read_text() if log.exists() else ""):
        times[name] = {"result": result, "sim_ms": round(float(sim_ns) / 1e6, 3), "wall_s": float(wall)}
    return times


@pytest.mark.slow
def test_i2c_small_design(tmp_path):
    """All short tests on a small design whose last image byte is partial."""
    report = run_tb(Design.build(SMALL_ARCH), tmp_path / "small", SHORT_TESTS + ["test_full_image"])
    assert report["tests"] == len(SHORT_TESTS) + 1
    assert report["failed"] == 0, report


@pytest.mark.slow
def test_i2c_default_design(tmp_path):
    """All tests on the default design, its whole weight image programmed once at 1 MHz."""
    design = Design.build(EncoderArch())
    report = run_tb(design, tmp_path / "default", None)
    assert report["tests"] == len(SHORT_TESTS) + 1
    assert report["failed"] == 0, report
    full = report["full_image"]
    assert full["image_bytes"] == design.image_bytes
    assert full["program_scl_cycles"] == predicted_scl_cycles(design.image_bytes, full["burst"])


@pytest.mark.slow
def test_i2c_fuzz(tmp_path):
    """Random bus events on the small design, each line change checked against the line-level
    model; the checker's own test proves a wrong model is caught."""
    summary_file = tmp_path / "fuzz.json"
    report = run_tb(Design.build(SMALL_ARCH), tmp_path / "fuzz", None, test_module="verif.tb_i2c_fuzz",
                    fuzz_events=1500, summary_file=str(summary_file), seed=11)
    assert report["tests"] == 2
    assert report["failed"] == 0, report
    summary = json.loads(summary_file.read_text())
    assert summary["mismatches"] == 0
    assert set(summary["by_kind"]) == set(FUZZ_EVENTS), "every kind of event was drawn"
    assert summary["transactions_ok"] == summary["by_kind"]["transaction"] + 1
    assert summary["line_changes"] > 10 * summary["events"]
    # the garbled transfers reach the register file too, beyond the well-formed transactions' bytes
    assert summary["bus_writes"] - summary["transaction_bytes"] >= 50
    assert summary["bus_reads"] - summary["transaction_bytes"] >= 50


def test_render_deterministic_and_stamped():
    design = Design.build(EncoderArch())
    stamp = wrapper_stamp(design, "asicgen rtl")
    first, second = render_wrappers(design, stamp), render_wrappers(design, stamp)
    assert first == second
    assert set(first) == {f"{TARGET}.sv", f"{REGFILE}.sv"}
    for name, text in first.items():
        assert text.startswith(stamp.header(name))
    regfile = first[f"{REGFILE}.sv"]
    assert f"output logic [{design.image_bits - 1}:0] weights_o" in regfile
    assert "localparam logic [7:0] ElinksLegal = 8'b00111100;" in regfile
    assert re.search(r"parameter int unsigned GlitchFilter = 3\b", first[f"{TARGET}.sv"])


def _verilator() -> str:
    verilator_environment()
    exe = shutil.which("verilator")
    if exe is None:
        pytest.skip("verilator not installed")
    return exe


@pytest.mark.parametrize("arch", [EncoderArch(), SMALL_ARCH], ids=["default", "small"])
def test_lint_clean(tmp_path, arch):
    design = Design.build(arch)
    paths = write_rtl(design, tmp_path)
    exe = _verilator()
    for top in (TARGET, REGFILE):
        proc = subprocess.run([exe, "--lint-only", "-Wall", "--top-module", top, *map(str, paths)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "%Warning" not in proc.stderr and "%Error" not in proc.stderr, proc.stderr
    parameters = wrapper_parameters(design, WRAPPER, GlitchFilter=DEFAULT_GLITCH_FILTER)
    params = [f"-G{name}={value}" for name, value in parameters.items()]
    proc = subprocess.run([exe, "--lint-only", "-Wall", "--top-module", "i2c_tb_top", *params,
                           *map(str, paths), str(WRAPPER)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "%Warning" not in proc.stderr, proc.stderr


@pytest.mark.slow
def test_yosys_synth(tmp_path):
    """Both modules read and synthesise with yosys; every register survives."""
    try:
        yosys_command()
    except YosysError as exc:
        pytest.skip(str(exc))
    design = Design.build(EncoderArch())
    paths = write_rtl(design, tmp_path)
    files = " ".join(p.name for p in paths)
    for top, min_flops in ((TARGET, 40), (REGFILE, design.image_bits)):
        stat = tmp_path / f"{top}.stat"
        run_yosys(f"read_verilog -sv {files}\nsynth -top {top}\ntee -q -o {stat.name} stat\n", tmp_path,
                  f"{top}.log")
        flops = sum(int(n) for n, _ in re.findall(r"(\d+)\s+\$_(S?DFFE?_\w+)", stat.read_text()))
        assert flops >= min_flops, stat.read_text()
