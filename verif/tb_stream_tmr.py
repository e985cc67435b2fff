"""cocotb tests: verif/tb_stream.py's scenarios on the TMR-hardened ae_top.

Launched by verif.flow_check.verify_hardened_top. The hardened netlist is flat: the register
file's registers are three replicas each, directly in ae_top, where tb_stream's back door
expects `u_top.u_regfile.weights_q`. So the same scenarios (verif/stream_scenarios.py) run
here with a back door that writes every replica (`HardenedBackdoor`).
"""

from __future__ import annotations

import cocotb

from verif import stream_scenarios as scenarios
from verif.stream_scenarios import HardenedBackdoor


@cocotb.test()
async def stream_every_vector_in_every_mode(dut):
    await scenarios.stream_every_vector_in_every_mode(dut, HardenedBackdoor)


@cocotb.test()
async def gaps_between_modules_and_disable(dut):
    await scenarios.gaps_between_modules_and_disable(dut, HardenedBackdoor)


@cocotb.test()
async def inputs_faster_than_ii_are_ignored(dut):
    await scenarios.inputs_faster_than_ii_are_ignored(dut, HardenedBackdoor)


@cocotb.test()
async def checker_detects_a_wrong_expectation(dut):
    await scenarios.checker_detects_a_wrong_expectation(dut, HardenedBackdoor)
