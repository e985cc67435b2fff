"""cocotb tests: single-event upsets in RTL nobody here wrote (tests/test_tmr_foreign.py).

Run on the wrapper `tb_tmr_foreign` (verif/tb_tmr_foreign.sv): an Amaranth design, plain and
hardened by the TMR pass with no knowledge of asicgen, on the same random inputs. The config
names the hardened registers (from the TMR report), the campaign sizes and where each test
writes its counts (`<stats_dir>/<test>.json`).

* hardened: upsets deposited into single replicas (`<replica_base(name)>__tmr<k>`), at most
  one a clock, in the middle of the clock. Checked around each: the two designs' outputs
  equal at the upset and at the next edge, `tmr_err` high at the upset (the pass adds it as
  the combinational OR of the comparators, there being no hook), the three copies equal and
  `tmr_err` low after the next edge; and outputs equal and `tmr_err` low on every other clock.
* plain: the same kind of upset in the plain design's registers must show on its outputs,
  or the comparison above could not fail.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer

from tmr.transform import replica_base
from verif.runner import load_config
from verif.seu import resolve

LOG = logging.getLogger("cocotb.tb_tmr_foreign")

CLOCK_NS = 10
#: clocks the plain design gets to show an upset on its outputs
PLAIN_WATCH_CLOCKS = 12
BANK_WORDS = 4


class Bench:
    def __init__(self, dut: Any):
        self.dut = dut
        self.config = load_config()
        self.rng = random.Random(self.config["seed"])
        self.registers = [(r["name"], int(r["width"])) for r in self.config["registers"]]

    async def start(self) -> None:
        cocotb.start_soon(Clock(self.dut.clk, CLOCK_NS, unit="ns").start())
        await self.resync()

    def drive(self, rst: int | None = None) -> None:
        """Random inputs; an occasional synchronous reset unless `rst` is given."""
        dut, rng = self.dut, self.rng
        dut.rst.value = int(rng.random() < 0.01) if rst is None else rst
        dut.start.value = int(rng.random() < 0.2)
        dut.we.value = int(rng.random() < 0.5)
        dut.waddr.value = rng.randrange(BANK_WORDS)
        dut.wdata.value = rng.randrange(256)
        dut.raddr.value = rng.randrange(BANK_WORDS)

    async def resync(self) -> None:
        """Reset both designs and write every word of both register banks (the bank has no
        reset): the designs agree again whatever an upset left behind."""
        for word in range(BANK_WORDS):
            await FallingEdge(self.dut.clk)
            self.drive(rst=1)
            self.dut.we.value, self.dut.waddr.value = 1, word
        await FallingEdge(self.dut.clk)
        self.drive(rst=0)
        await RisingEdge(self.dut.clk)

    def outputs_equal(self) -> bool:
        return str(self.dut.out_plain.value) == str(self.dut.out_hard.value)

    def replicas(self, name: str) -> list[Any]:
        return [getattr(self.dut.u_hard, f"{replica_base(name)}__tmr{k}") for k in range(3)]

    def write_stats(self, name: str, stats: dict[str, Any]) -> None:
        directory = Path(self.config["stats_dir"])
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.json").write_text(json.dumps(stats, indent=1))
        LOG.info("%s: %s", name, json.dumps(stats))


def flip(handle: Any, bit: int) -> None:
    """An upset: one bit inverted, held until the flip-flop is next written."""
    handle.value = int(handle.value) ^ (1 << bit)


@cocotb.test()
async def upsets_in_replicas_are_hidden_and_flagged(dut):
    tb = Bench(dut)
    await tb.start()
    stats = {"clocks": 0, "upsets": 0, "escapes": 0, "flagged": 0, "repaired": 0, "mismatches": 0,
             "false_flags": 0, "per_register": {name: 0 for name, _ in tb.registers}}
    while stats["upsets"] < tb.config["upsets"]:
        await FallingEdge(dut.clk)
        tb.drive()
        upset = tb.rng.random() < tb.config["upset_probability"]
        if upset:
            name, width = tb.rng.choice(tb.registers)
            replicas = tb.replicas(name)
            flip(replicas[tb.rng.randrange(3)], tb.rng.randrange(width))
            await Timer(1, unit="ns")
            await ReadOnly()
            stats["upsets"] += 1
            stats["per_register"][name] += 1
            stats["escapes"] += not tb.outputs_equal()
            stats["flagged"] += int(dut.tmr_err.value) == 1
        await RisingEdge(dut.clk)
        await ReadOnly()
        stats["clocks"] += 1
        stats["mismatches"] += not tb.outputs_equal()
        if upset:
            values = {str(r.value) for r in replicas}
            stats["repaired"] += len(values) == 1 and int(dut.tmr_err.value) == 0
        else:
            stats["false_flags"] += int(dut.tmr_err.value) != 0
    tb.write_stats("hardened", stats)
    assert stats["escapes"] == stats["mismatches"] == 0, stats
    assert stats["flagged"] == stats["repaired"] == stats["upsets"], stats
    assert stats["false_flags"] == 0, stats


@cocotb.test()
async def plain_design_upsets_change_outputs(dut):
    tb = Bench(dut)
    await tb.start()
    stats = {"upsets": 0, "visible": 0, "hardened_flags": 0, "per_register": {}}
    for _ in range(tb.config["plain_upsets"]):
        name, width = tb.rng.choice(tb.registers)
        await FallingEdge(dut.clk)
        tb.drive(rst=0)
        flip(resolve(dut.u_plain, name), tb.rng.randrange(width))
        stats["upsets"] += 1
        seen = False
        for _ in range(PLAIN_WATCH_CLOCKS):
            await Timer(1, unit="ns")
            await ReadOnly()
            seen = seen or not tb.outputs_equal()
            stats["hardened_flags"] += int(dut.tmr_err.value) != 0
            await FallingEdge(dut.clk)
            tb.drive(rst=0)
        stats["visible"] += seen
        entry = stats["per_register"].setdefault(name, [0, 0])
        entry[0], entry[1] = entry[0] + 1, entry[1] + seen
        await tb.resync()
    tb.write_stats("plain", stats)
    assert stats["visible"] > 0, stats
    assert stats["hardened_flags"] == 0, stats
