"""cocotb tests: the datapath streaming modules, bit-exact against the Python model.

Launched by tests/test_rtl_stream.py through verif.runner; the config names the
design, the weights, the vectors and which DUT (the plain datapath `ae_core`
or `ae_top` in its test wrapper `tb_ae_top`) is under test. The scenarios are
in verif/stream_scenarios.py; ae_top's weights and control go straight into its
register file (`TopBackdoor`).
"""

from __future__ import annotations

import cocotb

from verif import stream_scenarios as scenarios
from verif.stream_scenarios import TopBackdoor


@cocotb.test()
async def stream_every_vector_in_every_mode(dut):
    await scenarios.stream_every_vector_in_every_mode(dut, TopBackdoor)


@cocotb.test()
async def gaps_between_modules_and_disable(dut):
    await scenarios.gaps_between_modules_and_disable(dut, TopBackdoor)


@cocotb.test()
async def inputs_faster_than_ii_are_ignored(dut):
    await scenarios.inputs_faster_than_ii_are_ignored(dut, TopBackdoor)


@cocotb.test()
async def checker_detects_a_wrong_expectation(dut):
    await scenarios.checker_detects_a_wrong_expectation(dut, TopBackdoor)
