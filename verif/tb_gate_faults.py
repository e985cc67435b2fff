"""cocotb fault campaign on a fault-injection build of a mapped ae_top (asicgen/gate_faults.py).

The image is programmed over I2C and read back; then, fault after fault (upsets and transients
taking turns, `faults` of each kind), a few region modules
stream while one point's bit of `asicgen_fault` is high from the falling edge before a rising
edge to just after it (an upset: that flip-flop stores its complement at the edge; a
transient: the net is wrong at the edge), and the outputs of those modules are compared with
the model's (a transient in the datapath may spoil the crossing it hit: counted, not failed).
Between faults the queues are emptied, so one fault's spoiled outputs never shift the next
comparison. After the campaign the image is read back over I2C and a fresh stream must be
bit-exact: a weight, configuration or state register left wrong by any fault shows there,
since nothing rewrites the image during the campaign.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, Timer

from asicgen.core.design import Design
from asicgen.core.i2c import DEFAULT_DEVICE_ADDRESS, image_writes
from asicgen.core.regmap import RegisterMap
from asicgen.core.weights import WeightSet
from verif.i2c_agent import I2cDriver
from verif.runner import load_config
from verif.stream import TOP_PORTS, StreamBench

SETTLE_CLOCKS = 20
#: modules streamed around each fault
MODULES_PER_FAULT = 2


def _reset_queues(bench: StreamBench) -> int:
    """Empty every queue of the bench; the number of problems its scoreboard found since the last call."""
    bench.scoreboard.check()
    problems = len(bench.scoreboard.mismatches) + len(bench.monitor.errors) + len(bench.monitor.results) \
        + len(bench.model.expected)
    bench.scoreboard.mismatches.clear()
    bench.monitor.errors.clear()
    bench.monitor.results.clear()
    bench.model.expected.clear()
    bench.driver.sent_cycles.clear()
    return problems


@cocotb.test()
async def faults_while_streaming(dut):
    config = load_config()
    design = Design.from_raw(config["design"])
    regmap = RegisterMap.for_design(design)
    weights = WeightSet.from_words(design, np.asarray(config["weights"], dtype=np.int64))
    image = weights.image()
    points = config["points"]
    rng = random.Random(config["seed"])
    dut.i2c_addr.value = DEFAULT_DEVICE_ADDRESS
    dut.ctrl_scl_o.value = 1
    dut.ctrl_sda_o.value = 1
    dut.asicgen_fault.value = 0
    bench = StreamBench(dut, TOP_PORTS, design, weights)
    await bench.start()
    await ClockCycles(dut.clk, SETTLE_CLOCKS)
    i2c = I2cDriver(dut, config["scl_hz"])
    for write in image_writes(image, regmap.weights.base):
        acks = await i2c.write(DEFAULT_DEVICE_ADDRESS, write.address, write.data)
        assert all(acks), f"write at 0x{write.address:04X} NACKed: {acks}"
    acks, data = await i2c.read(DEFAULT_DEVICE_ADDRESS, regmap.weights.base, regmap.weights.n_bytes)
    assert all(acks) and bytes(data) == image, "the image read back before the campaign differs"

    codes = np.load(config["vectors"])["codes"]
    per_kind = {k: {"faults": 0, "spoiled_faults": 0, "bad_outputs": 0} for k in ("upset", "transient")}
    # kinds take turns, so `faults` of each kind that has points
    by_kind = {k: [p for p in points if p["kind"] == k] for k in per_kind}
    kinds = [k for k in per_kind if by_kind[k]]
    for i in range(config["faults"] * len(kinds)):
        candidates = by_kind[kinds[i % len(kinds)]]
        point = candidates[rng.randrange(len(candidates))]
        rows = codes[rng.randrange(len(codes) - MODULES_PER_FAULT):][:MODULES_PER_FAULT]
        bench.model.push(rows, design.default_elinks)
        sending = cocotb.start_soon(bench.driver.send(rows, design.ii))
        await ClockCycles(dut.clk, rng.randrange(0, design.ii * MODULES_PER_FAULT))
        await FallingEdge(dut.clk)
        dut.asicgen_fault.value = 1 << point["bit"]
        await RisingEdge(dut.clk)
        await Timer(1, "ns")
        dut.asicgen_fault.value = 0
        await sending
        await ClockCycles(dut.clk, design.latency + 2)
        bad = _reset_queues(bench)
        stats = per_kind[point["kind"]]
        stats["faults"] += 1
        stats["spoiled_faults"] += bad > 0
        stats["bad_outputs"] += bad
        if i % 2000 == 1999:
            dut._log.info("%d faults: %s", i + 1, per_kind)
    await ClockCycles(dut.clk, SETTLE_CLOCKS)

    acks, data = await i2c.read(DEFAULT_DEVICE_ADDRESS, regmap.weights.base, regmap.weights.n_bytes)
    differ = sum(a != b for a, b in zip(data, image, strict=True)) if all(acks) else None
    clean_rows = codes[: config["clean_modules"]]
    await bench.stream(clean_rows, design.default_elinks)
    clean_bad = _reset_queues(bench)
    result = {"faults": config["faults"] * len(kinds), "points": len(points), "per_kind": per_kind,
              "read_back_acked": all(acks), "read_back_bytes_differing": differ,
              "clean_modules": len(clean_rows), "clean_bad_outputs": clean_bad}
    Path(config["stats"]).write_text(json.dumps(result, indent=1))
    dut._log.info("campaign: %s", json.dumps(result))
    if config["expect_survival"]:
        assert all(acks) and differ == 0, f"image read back after the campaign: {differ} bytes differ"
        assert clean_bad == 0, f"{clean_bad} bad outputs streaming after the campaign"
    else:
        assert not all(acks) or differ or clean_bad, "the control build survived every fault"
