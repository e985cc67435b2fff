"""Launching the I2C testbenches: the wrapper `i2c_tb_top` around a design's
`ae_i2c_target` and `ae_regfile` (generated here, or taken from an existing IP)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asicgen.core.design import Design
from asicgen.core.i2c import DEFAULT_DEVICE_ADDRESS, DEFAULT_GLITCH_FILTER
from rtl_wrappers.generate import REGFILE, TARGET, render_wrappers, wrapper_stamp
from verif.params import wrapper_parameters
from verif.runner import Public, SimResult, run_cocotb

#: the testbench wrapper: the I2C target and register file with a controller's lines and glitch inputs
WRAPPER = Path(__file__).with_name("i2c_tb_top.sv")
#: the RTL files the I2C testbenches need from an IP
I2C_FILES = (f"{TARGET}.sv", f"{REGFILE}.sv")


def write_wrappers(design: Design, rtl: Path, command: str) -> list[Path]:
    """Generate the I2C target and register file of `design` into `rtl`."""
    rtl.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render_wrappers(design, wrapper_stamp(design, command)).items():
        (rtl / name).write_text(text)
        paths.append(rtl / name)
    return paths


def run_i2c(rtl_files: Sequence[Path], design: Design, build: Path, test_module: str,
            testcase: str | Sequence[str] | None = None, optimise: bool = False,
            public: Sequence[Public] | None = None, **config: Any) -> SimResult:
    """Run the cocotb tests of `test_module` on i2c_tb_top around `rtl_files` (one build folder per
    configuration: `build`)."""
    cfg = {"design": design.to_raw(), "device_address": DEFAULT_DEVICE_ADDRESS,
           "glitch_filter": DEFAULT_GLITCH_FILTER, "seed": 1, **config}
    return run_cocotb(sources=[*rtl_files, WRAPPER], toplevel="i2c_tb_top", test_module=test_module,
                      build_dir=build, config=cfg, testcase=testcase,
                      parameters=wrapper_parameters(design, WRAPPER, GlitchFilter=cfg["glitch_filter"]),
                      optimise=optimise, public=public)
