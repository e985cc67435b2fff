"""cocotb tests of ae_top over its real configuration interface.

Weights are programmed over I2C by cocotbext-i2c, replaying the transaction list
`asicgen image` writes; this also checks the fast back-door path the streaming
tests use. Reconfiguration: region A's image, check the outputs; region B's
image without a reset, check again: one RTL serves both regions.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from asicgen.core.design import Design
from asicgen.core.i2c import DEFAULT_DEVICE_ADDRESS, parse_transactions
from asicgen.core.naming import REGFILE_INSTANCE, WEIGHTS_REGISTER
from asicgen.core.weights import WeightSet
from verif.i2c_agent import I2cDriver
from verif.runner import load_config
from verif.stream import TOP_PORTS, StreamBench

DEVICE = DEFAULT_DEVICE_ADDRESS


async def program(driver: I2cDriver, transactions_text: str) -> None:
    device, writes = parse_transactions(transactions_text)
    for write in writes:
        acks = await driver.write(device, write.address, write.data)
        assert all(acks), f"write at 0x{write.address:04X} was NACKed: {acks}"


def regfile_image(dut, design: Design) -> bytes:
    value = getattr(getattr(dut.u_top, REGFILE_INSTANCE), WEIGHTS_REGISTER).value
    assert value.is_resolvable, "X/Z in the weight registers"
    return int(value).to_bytes(design.image_bytes, "little")


@cocotb.test()
async def program_two_regions_over_i2c_without_reset(dut):
    config = load_config()
    design = Design.from_raw(config["design"])
    data = np.load(config["vectors"])
    regions = config["regions"]
    dut.i2c_addr.value = DEVICE
    dut.ctrl_scl_o.value = 1
    dut.ctrl_sda_o.value = 1
    first = WeightSet.from_words(design, np.asarray(regions[0]["weights"], dtype=np.int64))
    bench = StreamBench(dut, TOP_PORTS, design, first)
    await bench.start()
    # the I2C target's input filters settle on the pad levels in the first clocks after reset
    await ClockCycles(dut.clk, 20)
    driver = I2cDriver(dut, config["scl_hz"])
    for i, region in enumerate(regions):
        weights = WeightSet.from_words(design, np.asarray(region["weights"], dtype=np.int64))
        await program(driver, region["transactions"])
        await ClockCycles(dut.clk, 2)
        # the registers hold exactly the image the back door would have deposited
        assert regfile_image(dut, design) == weights.image(), f"region {i}: image differs after I2C"
        acks, mode = await driver.read(DEVICE, config["elink_mode_address"], 1)
        assert all(acks) and mode[0] == region["elinks"], f"region {i}: e-link mode read back {mode}"
        bench.model.weights = weights
        rows = data["codes"][i::len(regions)][: config["modules_per_region"]]
        await bench.stream(rows, region["elinks"])
        bench.scoreboard.assert_clean()
        cocotb.log.info("region %s (%d e-links): %d modules bit-exact after programming over I2C",
                        region["name"], region["elinks"], len(rows))
