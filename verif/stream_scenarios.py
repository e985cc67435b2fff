"""The streaming tests' scenarios, and the ways they load weights and control into the DUT.

A scenario streams modules through `verif.stream.StreamBench` and checks them bit-exact against
the Python model. The DUT is the plain datapath `ae_core` (weights and control on its input ports)
or `ae_top` in its test wrapper `tb_ae_top` (weights and control deposited into the register file's
registers: a back door). The test modules verif/tb_stream.py (plain builds) and
verif/tb_stream_tmr.py (the TMR-hardened ae_top, whose back door writes every replica) run the
same scenarios, each with its own back door.
"""

from __future__ import annotations

from typing import Any

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from asicgen.core.design import Design
from asicgen.core.i2c import DEFAULT_DEVICE_ADDRESS
from asicgen.core.naming import (
    ELINKS_REGISTER,
    ENABLE_REGISTER,
    REGFILE_INSTANCE,
    WEIGHTS_REGISTER,
    regfile_register,
)
from asicgen.core.weights import WeightSet
from tmr.transform import replica_base
from verif.flow_check import BACKDOOR_REGISTERS
from verif.runner import load_config
from verif.stream import CORE_PORTS, TOP_PORTS, StreamBench, pack


class CoreControl:
    """Weights and control of the plain datapath: its input ports."""

    def __init__(self, dut: Any):
        self.dut = dut

    def load_weights(self, weights: WeightSet) -> None:
        self.dut.weights_i.value = int.from_bytes(weights.image(), "little")

    def set_mode(self, elinks: int) -> None:
        self.dut.elinks_i.value = elinks

    def set_enable(self, enable: bool) -> None:
        self.dut.enable_i.value = int(enable)


class TopBackdoor:
    """Weights and control of ae_top, deposited straight into the register file's registers
    (the fast path; verif/tb_top.py checks it against programming over I2C)."""

    def __init__(self, dut: Any):
        regfile = getattr(dut.u_top, REGFILE_INSTANCE)
        self.weights, self.elinks, self.enable = (getattr(regfile, r) for r in
                                                  (WEIGHTS_REGISTER, ELINKS_REGISTER, ENABLE_REGISTER))

    def load_weights(self, weights: WeightSet) -> None:
        self.weights.value = int.from_bytes(weights.image(), "little")

    def set_mode(self, elinks: int) -> None:
        self.elinks.value = elinks

    def set_enable(self, enable: bool) -> None:
        self.enable.value = int(enable)


class HardenedBackdoor(TopBackdoor):
    """Weights and control of the hardened ae_top, deposited into all three replicas of each
    register (the copies agree, so no voter flags an error).

    The hardened netlist is flat: the register file's registers are three replicas each, directly
    in ae_top (`u_regfile__weights_q__tmr0..2`, named by tmr.transform.replica_base)."""

    def __init__(self, dut: Any):
        self.copies = {name: [getattr(dut.u_top, f"{replica_base(name)}__tmr{k}") for k in range(3)]
                       for name in BACKDOOR_REGISTERS}

    def _write(self, name: str, value: int) -> None:
        for handle in self.copies[name]:
            handle.value = value

    def load_weights(self, weights: WeightSet) -> None:
        self._write(regfile_register(WEIGHTS_REGISTER), int.from_bytes(weights.image(), "little"))

    def set_mode(self, elinks: int) -> None:
        self._write(regfile_register(ELINKS_REGISTER), elinks)

    def set_enable(self, enable: bool) -> None:
        self._write(regfile_register(ENABLE_REGISTER), int(enable))


Control = CoreControl | TopBackdoor


def setup(dut: Any, backdoor: type[TopBackdoor]):
    """Config, design, weights, bench, control and vectors of a test; `backdoor` when the DUT is
    the ae_top wrapper."""
    config = load_config()
    design = Design.from_raw(config["design"])
    weights = WeightSet.from_words(design, np.asarray(config["weights"], dtype=np.int64))
    top = config["dut"] == "tb_ae_top"
    bench = StreamBench(dut, TOP_PORTS if top else CORE_PORTS, design, weights)
    control = backdoor(dut) if top else CoreControl(dut)
    data = np.load(config["vectors"])
    return config, design, weights, bench, control, data


async def start(bench: StreamBench, control: Control, weights: WeightSet, design: Design) -> None:
    if isinstance(control, CoreControl):
        control.set_mode(design.default_elinks)
        control.set_enable(True)
        control.load_weights(weights)
    if isinstance(control, TopBackdoor):
        bench.dut.i2c_addr.value = DEFAULT_DEVICE_ADDRESS
        bench.dut.ctrl_scl_o.value = 1
        bench.dut.ctrl_sda_o.value = 1
    await bench.start()
    if isinstance(control, TopBackdoor):
        control.load_weights(weights)
    await ClockCycles(getattr(bench.dut, bench.ports.clk), 2)


async def stream_every_vector_in_every_mode(dut: Any, backdoor: type[TopBackdoor]) -> None:
    """Region presets and corner cases, one module per II clocks, each e-link mode."""
    _, design, weights, bench, control, data = setup(dut, backdoor)
    await start(bench, control, weights, design)
    codes, elinks = data["codes"], data["elinks"]
    for mode in design.elink_modes:
        rows = codes[elinks == mode.elinks]
        control.set_mode(mode.elinks)
        await bench.stream(rows, mode.elinks)
    bench.scoreboard.assert_clean()
    assert bench.scoreboard.compared == len(codes)
    cocotb.log.info("%d modules bit-exact, latency %d, II %d", len(codes), design.latency, design.ii)


async def gaps_between_modules_and_disable(dut: Any, backdoor: type[TopBackdoor]) -> None:
    """Irregular spacing keeps results right; with processing disabled nothing comes out."""
    _, design, weights, bench, control, data = setup(dut, backdoor)
    await start(bench, control, weights, design)
    codes = data["codes"][:60]
    rng = np.random.default_rng(3)
    for start_row in range(0, len(codes), 10):
        await bench.stream(codes[start_row:start_row + 10], design.default_elinks,
                           spacing=design.ii + int(rng.integers(0, 4)))
    bench.scoreboard.assert_clean()
    control.set_enable(False)
    await bench.driver.send(codes[:5], design.ii)
    await bench.drain()
    assert not bench.monitor.results, "outputs while processing is disabled"
    bench.driver.sent_cycles.clear()
    control.set_enable(True)
    await bench.stream(codes[:5], design.default_elinks)
    bench.scoreboard.assert_clean()


async def inputs_faster_than_ii_are_ignored(dut: Any, backdoor: type[TopBackdoor]) -> None:
    """tc_valid on every clock: only every II-th module is accepted (II = 1: all of them)."""
    _, design, weights, bench, control, data = setup(dut, backdoor)
    await start(bench, control, weights, design)
    codes = data["codes"][:40]
    accepted = codes[::design.ii]
    bench.model.push(accepted, design.default_elinks)
    clk = getattr(dut, bench.ports.clk)
    tc, valid = getattr(dut, bench.ports.tc), getattr(dut, bench.ports.tc_valid)
    for i, row in enumerate(codes):
        tc.value = pack(row, design.converter.tc_code.bits)
        valid.value = 1
        await bench.driver.sampled(clk)
        if i % design.ii:
            bench.driver.sent_cycles.pop()  # not accepted: the datapath is still busy
    valid.value = 0
    await bench.drain()
    bench.scoreboard.assert_clean()
    assert bench.scoreboard.compared == len(accepted)


async def checker_detects_a_wrong_expectation(dut: Any, backdoor: type[TopBackdoor]) -> None:
    """The scoreboard can fail: the model is given different weights from the DUT's."""
    _, design, weights, bench, control, data = setup(dut, backdoor)
    await start(bench, control, weights, design)
    words = weights.words().copy()
    words[design.dense.bias_tensor.first_word] = (words[design.dense.bias_tensor.first_word] + 17) % 32 - 16
    bench.model.weights = WeightSet.from_words(design, words)
    await bench.stream(data["codes"][:200], design.default_elinks)
    try:
        bench.scoreboard.assert_clean()
    except AssertionError as exc:
        cocotb.log.info("the checker caught the injected error: %s", str(exc)[:200])
        return
    raise AssertionError("the scoreboard did not notice outputs computed with other weights")
