"""I2C fuzzing on i2c_tb_top (ae_i2c_target + ae_regfile): random line activity, every line
change checked against the line-level model of verif/i2c_fuzz.py (what the target drives on
SDA, every register-file write and read), well-formed transactions in between proving the
target still answers, and the register file's outputs compared with the model at the end.

Config keys (besides those of verif/i2c_agent.TbConfig): `fuzz_events` (default 1500) and
`summary_file` (a JSON summary: events by kind, line changes, transactions, mismatches).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cocotb
from cocotb.triggers import ClockCycles, Timer

from verif.i2c_agent import RESET_CLOCKS, SETTLE_CLOCKS, Env, resolved
from verif.i2c_fuzz import BusOps, Fuzzer, LinePort
from verif.params import CLOCK_NS
from verif.runner import load_config

DEFAULT_EVENTS = 1500
CHECKER_EVENTS = 200
#: clocks a line change is held: the pad synchroniser, the glitch filter, then the target's reaction
SETTLE_MARGIN = 8


def _port(env: Env) -> LinePort:
    dut = env.dut
    hold = env.cfg.glitch_filter + SETTLE_MARGIN
    assert env.sb is not None
    monitor = env.sb.monitor

    async def set_lines(scl: int, sda: int) -> None:
        dut.ctrl_scl_o.value = scl
        dut.ctrl_sda_o.value = sda
        await Timer(hold * CLOCK_NS, unit="ns")  # one wake-up, not one per clock

    async def glitch(line: str, clocks: int) -> None:
        await env.pulse(dut.scl_glitch if line == "scl" else dut.sda_glitch, 1, clocks)
        await ClockCycles(dut.clk, hold)

    async def reset() -> None:
        dut.rst_n.value = 0
        await ClockCycles(dut.clk, RESET_CLOCKS)
        dut.rst_n.value = 1
        await ClockCycles(dut.clk, SETTLE_CLOCKS)

    def observe() -> tuple[int | None, BusOps]:
        writes, reads = monitor.take()
        for text in monitor.bad:
            writes.append((-1, -1))  # an X/Z strobe never matches the model
            cocotb.log.error(text)
        monitor.bad.clear()
        return resolved(dut.target_sda_o), BusOps(writes, reads)

    return LinePort(set_lines, glitch, reset, observe)


async def _fuzz(dut, model_device: int | None = None, events: int | None = None) -> Fuzzer:
    env = Env(dut)
    await env.start()
    raw = load_config()
    events = int(raw.get("fuzz_events", DEFAULT_EVENTS)) if events is None else events
    cfg = env.cfg
    fuzzer = Fuzzer(cfg.regmap, cfg.device_address, cfg.glitch_filter, _port(env), env.rng, model_device)
    dut.ctrl_scl_o.value = 1
    dut.ctrl_sda_o.value = 1
    started = time.monotonic()

    def progress(done: int) -> None:
        cocotb.log.info("I2C fuzz: %d/%d events, %d line changes, %d mismatches, %.0f s", done, events,
                        fuzzer.steps, len(fuzzer.errors), time.monotonic() - started)

    await fuzzer.run(events, progress)
    fuzzer.final_state(resolved(dut.weights), resolved(dut.elinks), resolved(dut.enable))
    summary = {"events": events, "by_kind": dict(sorted(fuzzer.events.items())), "line_changes": fuzzer.steps,
               "transactions_ok": fuzzer.transactions_ok,
               "transaction_bytes": fuzzer.transaction_bytes, "bus_writes": fuzzer.bus_writes,
               "bus_reads": fuzzer.bus_reads, "mismatches": len(fuzzer.errors),
               "first_mismatches": fuzzer.errors[:10], "seed": cfg.seed}
    cocotb.log.info("I2C fuzz: %s", json.dumps(summary))
    if raw.get("summary_file") and model_device is None:
        Path(raw["summary_file"]).write_text(json.dumps(summary, indent=1) + "\n")
    return fuzzer


@cocotb.test()
async def test_fuzz(dut):
    """Random bus events: the target never hangs, never writes what it was not told to, reads back."""
    fuzzer = await _fuzz(dut)
    assert fuzzer.transactions_ok > 0, "no well-formed transaction completed"
    assert not fuzzer.errors, f"{len(fuzzer.errors)} mismatches, first: {fuzzer.errors[:3]}"


@cocotb.test()
async def test_fuzz_checker_detects_a_wrong_model(dut):
    """The checker can fail: a model answering another device address must disagree with the RTL."""
    fuzzer = await _fuzz(dut, model_device=load_config()["device_address"] ^ 0x01, events=CHECKER_EVENTS)
    assert fuzzer.errors, "a model with the wrong device address went unnoticed"
