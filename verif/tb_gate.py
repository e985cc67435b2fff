"""cocotb test of a mapped ae_top netlist (gate level) through its ports only.

The weight image is written over I2C by cocotbext-i2c, read back over I2C and compared byte
for byte, then region modules stream bit-exact against the Python model (the same driver,
monitor, model and scoreboard as the RTL tests). Nothing inside the netlist is touched: a
mapped netlist has no register names to reach.
"""

from __future__ import annotations

import time

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from asicgen.core.design import Design
from asicgen.core.i2c import DEFAULT_DEVICE_ADDRESS, image_writes
from asicgen.core.regmap import RegisterMap
from asicgen.core.weights import WeightSet
from verif.i2c_agent import I2cDriver
from verif.runner import load_config
from verif.stream import TOP_PORTS, StreamBench

#: clocks after reset before the I2C target's input filters hold the pad levels
SETTLE_CLOCKS = 20


@cocotb.test()
async def program_read_back_and_stream(dut):
    config = load_config()
    design = Design.from_raw(config["design"])
    regmap = RegisterMap.for_design(design)
    weights = WeightSet.from_words(design, np.asarray(config["weights"], dtype=np.int64))
    image = weights.image()
    dut.i2c_addr.value = DEFAULT_DEVICE_ADDRESS
    dut.ctrl_scl_o.value = 1
    dut.ctrl_sda_o.value = 1
    bench = StreamBench(dut, TOP_PORTS, design, weights)
    await bench.start()
    await ClockCycles(dut.clk, SETTLE_CLOCKS)
    i2c = I2cDriver(dut, config["scl_hz"])
    t0 = time.perf_counter()
    for write in image_writes(image, regmap.weights.base):
        acks = await i2c.write(DEFAULT_DEVICE_ADDRESS, write.address, write.data)
        assert all(acks), f"write at 0x{write.address:04X} NACKed: {acks}"
    t1 = time.perf_counter()
    acks, data = await i2c.read(DEFAULT_DEVICE_ADDRESS, regmap.weights.base, regmap.weights.n_bytes)
    assert all(acks), f"weight read-back NACKed: {acks}"
    differ = [i for i, (a, b) in enumerate(zip(data, image, strict=True)) if a != b]
    assert not differ, f"{len(differ)} of {len(image)} bytes read back differ, first at byte {differ[0]}"
    t2 = time.perf_counter()
    codes = np.load(config["vectors"])["codes"]
    await bench.stream(codes, design.default_elinks)
    bench.scoreboard.assert_clean()
    t3 = time.perf_counter()
    assert bench.scoreboard.compared == len(codes), f"{bench.scoreboard.compared} of {len(codes)} compared"
    dut._log.info("gate level: %d image bytes written over I2C (%.1f s) and read back equal (%.1f s); %d "
                  "modules bit-exact (%.1f s)", len(image), t1 - t0, t2 - t1, len(codes), t3 - t2)


@cocotb.test(expect_fail=True)
async def the_scoreboard_fails_on_wrong_weights(dut):
    """Streaming against a model holding other weights than the image programmed must fail
    (the weights are the reset values, never programmed): the checker can fail."""
    config = load_config()
    design = Design.from_raw(config["design"])
    weights = WeightSet.from_words(design, np.asarray(config["weights"], dtype=np.int64))
    dut.i2c_addr.value = DEFAULT_DEVICE_ADDRESS
    dut.ctrl_scl_o.value = 1
    dut.ctrl_sda_o.value = 1
    bench = StreamBench(dut, TOP_PORTS, design, weights)
    await bench.start()
    codes = np.load(config["vectors"])["codes"][:20]
    await bench.stream(codes, design.default_elinks)
    bench.scoreboard.assert_clean()
