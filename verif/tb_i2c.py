"""cocotb tests of ae_i2c_target + ae_regfile (wrapper `i2c_tb_top`) over I2C.

Every test drives transactions through the scoreboard of `verif.i2c_agent`, which checks each
one (ACKs, read data, register-file bus) against `asicgen.core.i2c.RegisterFileModel`, and
ends with the whole register state compared with the model's.

Launched by tests/test_rtl_i2c.py through verif.runner.run_cocotb; parameters
arrive in the JSON config (design, device address, SCL speeds, glitch filter).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, Timer, ValueChange
from cocotb.utils import get_sim_time

from asicgen.core.i2c import DEFAULT_BURST, image_writes
from asicgen.core.naming import REGFILE_INSTANCE, WEIGHTS_REGISTER
from rtl_wrappers.generate import COUNTER_SIGNAL
from verif.i2c_agent import ADDRESS_MAX, RESET_CLOCKS, Env, resolved
from verif.params import CLOCK_NS


def _regfile(dut):
    return getattr(dut, REGFILE_INSTANCE)


@cocotb.test()
async def test_reset_state(dut):
    """After reset: weights zero, default e-link mode, enabled, constants readable."""
    env = Env(dut)
    sb = await env.start()
    regmap = env.cfg.regmap
    reg = regmap.reg
    ident = await sb.read(reg.ID.address, 3)
    d = env.cfg.design
    assert ident == bytes([reg.ID.reset, reg.VERSION.reset,
                           reg.BUILD.encode(ii=d.ii, latency=d.latency)]), ident.hex()
    await env.finish()


@cocotb.test()
async def test_full_image(dut):
    """Program the whole weight image (random bytes) in bursts, read it all back."""
    env = Env(dut)
    sb = await env.start(env.cfg.full_image_scl_hz)
    window = env.cfg.regmap.weights
    image = bytearray(env.random_bytes(window.n_bytes))
    scl_cycles = [0]

    async def count_scl():
        while True:
            await RisingEdge(dut.scl)
            scl_cycles[0] += 1

    counter = cocotb.start_soon(count_scl())
    t0 = get_sim_time(unit="ns")
    for w in image_writes(bytes(image), window.base, DEFAULT_BURST):
        await sb.write(w.address, w.data)
    t1 = get_sim_time(unit="ns")
    program_cycles = scl_cycles[0]
    await sb.read(window.base, window.n_bytes)
    t2 = get_sim_time(unit="ns")
    readback_cycles = scl_cycles[0] - program_cycles
    counter.cancel()
    timing = {"scl_hz": sb.driver.scl_hz, "image_bytes": window.n_bytes, "burst": DEFAULT_BURST,
              "program_ns": t1 - t0, "program_scl_cycles": program_cycles,
              "program_clocks": round((t1 - t0) / CLOCK_NS),
              "readback_ns": t2 - t1, "readback_scl_cycles": readback_cycles}
    cocotb.log.info("full image: %s", timing)
    if env.cfg.timing_file:
        Path(env.cfg.timing_file).write_text(json.dumps(timing, indent=1, sort_keys=True) + "\n")
    await sb.check_state()
    sb.assert_clean()


@cocotb.test()
async def test_partial_and_burst_writes(dut):
    """Single bytes, bursts of random length and overlapping rewrites inside the window."""
    env = Env(dut)
    sb = await env.start()
    window = env.cfg.regmap.weights
    for _ in range(6):
        await sb.write(env.rng.randrange(window.n_bytes), env.random_bytes(1))
    for length in (2, 5, DEFAULT_BURST, 17):
        start = env.rng.randrange(window.n_bytes - length + 1)
        await sb.write(window.base + start, env.random_bytes(length))
        await sb.read(window.base + start, length)
    # first and last bytes of the window (the last one may hold fewer than 8 weight bits)
    await sb.write(window.base, env.random_bytes(3))
    await sb.write(window.last, b"\x5a")
    await sb.read(window.last, 1)
    await sb.write(window.last - 1, b"\xff\xff")
    await sb.read(window.last - 1, 2)
    await env.finish()


@cocotb.test()
async def test_burst_off_the_end(dut):
    """A burst running past the weight window or the last register: NACK there, nothing written on."""
    env = Env(dut)
    sb = await env.start()
    regmap = env.cfg.regmap
    window = regmap.weights
    await sb.write(window.last - 3, env.random_bytes(9))
    await sb.read(window.last - 3, 8)  # reads past the end return 0xFF
    last_reg = regmap.registers[-1].address
    await sb.write(regmap.reg.ELINK_MODE.address, bytes([3, 0, 0x0F, 0, 0, 0x55]))
    await sb.write(last_reg, bytes([0, 0x12]))
    await sb.read(last_reg - 1, 4)
    await env.finish()


@cocotb.test()
async def test_illegal_addresses(dut):
    """Addresses outside the map: the low address byte is NACKed and nothing changes."""
    env = Env(dut)
    sb = await env.start()
    regmap = env.cfg.regmap
    await sb.write(0x0010, env.random_bytes(4))
    outside = [regmap.weights.last + 1, 0x1234, regmap.registers[0].address - 1,
               regmap.registers[-1].address + 1, ADDRESS_MAX]
    for address in outside:
        assert not regmap.in_map(address)
        await sb.write(address, env.random_bytes(3))
        await sb.write(address, b"")
        await sb.read(address, 2)
    # wrong device address: no ACK at all, nothing written, reads float high
    await sb.write(0x0010, b"\x00\x00", device=env.cfg.device_address ^ 0x01)
    await sb.read(0x0010, 2, device=env.cfg.device_address ^ 0x40)
    # the device address follows the pins
    other = env.cfg.device_address ^ 0x15
    dut.dev_addr.value = other
    sb.cfg = dataclasses.replace(sb.cfg, device_address=other)
    await sb.write(0x0011, b"\x5a")
    await sb.read(0x0010, 3)
    await sb.write(0x0012, b"\xa5", device=env.cfg.device_address)
    await env.finish()


@cocotb.test()
async def test_read_only_registers(dut):
    """ID, VERSION, BUILD read their constants; writes are ACKed and ignored."""
    env = Env(dut)
    sb = await env.start()
    regmap = env.cfg.regmap
    for reg in (regmap.reg.ID, regmap.reg.VERSION, regmap.reg.BUILD):
        assert await sb.read(reg.address, 1) == bytes([reg.reset])
        await sb.write(reg.address, bytes([reg.reset ^ 0xFF]))
        assert await sb.read(reg.address, 1) == bytes([reg.reset])
    await env.finish()


@cocotb.test()
async def test_elink_mode_and_enable(dut):
    """ELINK_MODE keeps its value on illegal writes; CTRL.enable follows bit 0."""
    env = Env(dut)
    sb = await env.start()
    regmap = env.cfg.regmap
    elink = regmap.reg.ELINK_MODE.address
    ctrl = regmap.reg.CTRL.address
    for value in (3, 0, 7, 2, 1, 6, 0x0C, 5, 0xF9, 4, 0xFF):
        await sb.write(elink, bytes([value]))
        if sb.model.field_value("ELINK_MODE", "elinks") != resolved(dut.elinks):
            sb.error(f"elinks_o {dut.elinks.value} after writing {value}")
    for value in (0, 1, 0xFE, 0x01):
        await sb.write(ctrl, bytes([value]))
        if sb.model.field_value("CTRL", "enable") != resolved(dut.enable):
            sb.error(f"enable_o {dut.enable.value} after writing {value}")
    await sb.write(elink, bytes([3, 0]))  # burst over both registers
    await env.finish()


@cocotb.test()
async def test_tmr_flags_and_upset_counter(dut):
    """Sticky flags (write 1 to clear, set wins) and the saturating upset counter."""
    env = Env(dut)
    sb = await env.start()
    regmap = env.cfg.regmap
    flags_reg = regmap.reg.TMR_ERR
    n_flags = len(flags_reg.fields)
    lo = regmap.reg.UPSET_COUNT_LO.address
    hi = regmap.reg.UPSET_COUNT_HI.address

    await env.pulse(dut.tmr_flags, 0b0101 & ((1 << n_flags) - 1))
    sb.model_flags(0b0101)
    await env.pulse(dut.upset, 1, 3)
    sb.model_upsets(3)
    await sb.read(flags_reg.address, 3)
    await sb.write(flags_reg.address, bytes([0x01]))  # clear one flag
    await sb.write(flags_reg.address, bytes([0x02]))  # clearing a clear flag does nothing
    await sb.read(flags_reg.address, 1)
    await env.pulse(dut.tmr_flags, (1 << n_flags) - 1)
    sb.model_flags((1 << n_flags) - 1)
    for _ in range(5):  # separate single-clock upsets
        await env.pulse(dut.upset, 1)
        await ClockCycles(dut.clk, 3)
    sb.model_upsets(5)
    await sb.check_state()

    # a flag raised in the very clock of the clearing write stays set;
    # an upset in the clock of the clearing write counts as the first
    async def during_write_strobe(signal, value):
        await RisingEdge(dut.bus_we)
        signal.value = value
        await RisingEdge(dut.clk)
        signal.value = 0

    task = cocotb.start_soon(during_write_strobe(dut.tmr_flags, 0b0001))
    await sb.write(flags_reg.address, bytes([0xFF]))
    await task
    sb.model_flags(0b0001)
    task = cocotb.start_soon(during_write_strobe(dut.upset, 1))
    await sb.write(hi, b"\x00")
    await task
    sb.model_upsets(1)
    await sb.check_state()

    # saturation: start just below the top by a deposit, count past it
    top = regmap.counter_max
    getattr(_regfile(dut), f"{COUNTER_SIGNAL}_q").value = top - 2
    sb.model.upset_count = top - 2
    await env.pulse(dut.upset, 1, 6)
    sb.model_upsets(6)
    await sb.read(lo, 2)
    await sb.write(lo, b"\x77")  # any write to either byte clears
    await sb.read(lo, 2)
    await env.finish()


@cocotb.test()
async def test_repeated_start_reads(dut):
    """Reads with a repeated START, continued reads from the pointer, reads across the window end."""
    env = Env(dut)
    sb = await env.start()
    window = env.cfg.regmap.weights
    await sb.write(window.base, env.random_bytes(12))
    await sb.read(window.base + 2, 4)
    await sb.read_current(3)  # continues where the last read stopped
    await sb.write(window.base + 5, b"")  # address only
    await sb.read_current(2)
    await sb.write(window.last - 2, env.random_bytes(3))
    await sb.read(window.last - 1, 5)
    first = env.cfg.regmap.registers[0].address
    await sb.read(first, 2)
    await sb.read_current(2)
    await env.finish()


@cocotb.test()
async def test_speeds(dut):
    """Standard (100 kHz), fast (400 kHz) and fast-mode plus (1 MHz) SCL."""
    env = Env(dut)
    sb = await env.start()
    window = env.cfg.regmap.weights
    for scl_hz in (100e3, 400e3, 1e6):
        sb.driver.use_speed(scl_hz)
        address = window.base + env.rng.randrange(window.n_bytes - 4)
        await sb.write(address, env.random_bytes(4))
        await sb.read(address, 4)
        await sb.write(env.cfg.regmap.reg.ELINK_MODE.address, bytes([env.rng.choice((2, 3, 4, 5))]))
    sb.driver.use_speed(env.cfg.scl_hz)
    await env.finish()


@cocotb.test()
async def test_start_stop_anywhere(dut):
    """START or STOP in the middle of a byte or transaction resets the byte engine."""
    env = Env(dut)
    sb = await env.start()
    master = sb.driver.master
    dev = env.cfg.device_address
    window = env.cfg.regmap.weights

    async def partial(bits: int, value: int):
        for i in range(bits):
            await master.send_bit(value & (1 << (7 - i)))

    # STOP after the high address byte, then after a partial data byte
    await master.send_start()
    await sb.driver.send_byte(dev << 1)
    await sb.driver.send_byte(0x00)
    await master.send_stop()
    await master.send_start()
    for byte in (dev << 1, 0x00, 0x20):
        await sb.driver.send_byte(byte)
    await partial(5, 0xFF)
    await master.send_stop()
    # the address phase before the partial byte moved the pointer
    sb.pointer = window.base + 0x20
    # repeated START in the middle of the device address and of a data byte
    await master.send_start()
    await partial(3, (dev << 1))
    await master.send_start()
    for byte in (dev << 1, 0x00, 0x30, 0xAB):
        await sb.driver.send_byte(byte)
    sb.model.write(window.base + 0x30, b"\xab")
    await partial(6, 0x00)
    await master.send_start()
    await master.send_byte(dev << 1)
    await master.send_stop()
    sb.monitor.take()
    sb.pointer = window.base + 0x31
    await sb.read_current(2)
    await sb.write(window.base + 0x40, b"\x11\x22")
    await env.finish()


@cocotb.test()
async def test_glitch_filter_threshold(dut):
    """With the bus idle, an SDA low pulse shorter than the filter is ignored; a longer one is a START."""
    env = Env(dut)
    sb = await env.start()
    g = env.cfg.glitch_filter
    state = dut.u_target.state_q
    idle = resolved(state)
    seen: list[int] = []

    async def watch():
        while True:
            await RisingEdge(dut.clk)
            if resolved(state) != idle:
                seen.append(resolved(state))

    for width, detected in ((g - 1, False), (g + 1, True)):
        if width < 1:
            continue
        seen.clear()
        watcher = cocotb.start_soon(watch())
        await env.pulse(dut.sda_glitch, 1, width)
        await ClockCycles(dut.clk, 3 * g + 10)
        watcher.cancel()
        if bool(seen) != detected:
            sb.error(f"SDA pulse of {width} clocks with SCL high: START {'' if seen else 'not '}detected")
    # the pulse of g + 1 clocks was a START and a STOP: the target must be idle again
    if resolved(state) != idle:
        sb.error("target not idle after a START/STOP pulse pair")
    await env.finish()


@cocotb.test()
async def test_glitches_during_transfer(dut):
    """Pulses shorter than the filter on SCL and SDA while transfers run: they must still succeed."""
    env = Env(dut)
    sb = await env.start()
    g = env.cfg.glitch_filter
    rng = env.rng
    count = [0, 0]
    longest = (g - 1) * CLOCK_NS

    async def inject():
        while True:
            await Timer(rng.randrange(15, 120) * CLOCK_NS + rng.randrange(CLOCK_NS), unit="ns")
            which = rng.randrange(2)
            line = (dut.scl_glitch, dut.sda_glitch)[which]
            width = rng.randrange(2, longest + 1) if longest >= 2 else 0
            if width:
                line.value = 1
                await Timer(width, unit="ns")
                line.value = 0
                count[which] += 1

    injector = cocotb.start_soon(inject())
    window = env.cfg.regmap.weights
    for _ in range(3):
        address = window.base + rng.randrange(window.n_bytes - 8)
        await sb.write(address, env.random_bytes(8))
        await sb.read(address, 8)
    await sb.write(env.cfg.regmap.reg.ELINK_MODE.address, b"\x02\x00")
    injector.cancel()
    dut.scl_glitch.value = 0
    dut.sda_glitch.value = 0
    cocotb.log.info("injected %d SCL and %d SDA pulses of at most %d ns", count[0], count[1], longest)
    if g > 1 and min(count) < 20:
        sb.error(f"too few glitches injected: {count}")
    await env.finish()


@cocotb.test()
async def test_reset_mid_transaction(dut):
    """A reset during a write or a read: target idle and releasing SDA, state at reset values."""
    env = Env(dut)
    sb = await env.start()
    window = env.cfg.regmap.weights
    elink = env.cfg.regmap.reg.ELINK_MODE.address
    ctrl = env.cfg.regmap.reg.CTRL.address
    drove_low: list[float] = []

    async def watch_sda():
        while True:
            await FallingEdge(dut.target_sda_o)
            drove_low.append(get_sim_time(unit="ns"))

    async def watch_state():
        while True:
            await ValueChange(dut.u_target.state_q)
            left_idle.append(resolved(dut.u_target.state_q))

    left_idle: list[int | None] = []
    scenarios = ["write_scl_high_sda_low", "write", "read", "read", "write"]
    for n, scenario in enumerate(scenarios):
        await sb.write(elink, b"\x03")
        await sb.write(ctrl, b"\x00")
        await sb.write(window.base + 8 * n, env.random_bytes(6))
        dut.tmr_flags.value = 0b1
        await RisingEdge(dut.clk)
        dut.tmr_flags.value = 0
        sb.model_flags(0b1)
        if scenario.startswith("write"):
            data = env.random_bytes(6)
            task = cocotb.start_soon(sb.driver.write(env.cfg.device_address, window.base, data))
        else:
            task = cocotb.start_soon(sb.driver.read(env.cfg.device_address, window.base + 8 * n, 6))
        if scenario == "write_scl_high_sda_low":
            # SCL high while SDA is low inside the transfer: must not look like a START after reset
            while True:
                await RisingEdge(dut.scl)
                await Timer(100, unit="ns")
                if resolved(dut.sda) == 0 and resolved(dut.scl) == 1:
                    break
        else:
            if scenario == "read":  # into the data phase, after the repeated START
                await RisingEdge(dut.bus_re)
            scl_cycles = env.rng.uniform(1, 30 if scenario == "read" else 70)
            await Timer(int(scl_cycles * 1e9 / sb.driver.scl_hz), unit="ns")
        dut.rst_n.value = 0
        await ClockCycles(dut.clk, RESET_CLOCKS)
        if resolved(dut.target_sda_o) != 1:
            sb.error(f"{scenario}: SDA not released during reset")
        drove_low.clear()
        left_idle.clear()
        watchers = [cocotb.start_soon(watch_sda()), cocotb.start_soon(watch_state())]
        dut.rst_n.value = 1
        await task  # the controller finishes its transfer against an idle target
        for watcher in watchers:
            watcher.cancel()
        if drove_low:
            sb.error(f"{scenario}: target pulled SDA low after the reset (at {drove_low[0]} ns)")
        if left_idle:
            sb.error(f"{scenario}: target left the idle state after the reset: states {left_idle}")
        if resolved(dut.u_target.state_q) != 0:
            sb.error(f"{scenario}: target not idle after the reset")
        sb.reset_model()
        await sb.check_state()
        await sb.write(window.base + 1, b"\x42\x43")
        await sb.read(window.base, 4)
    await env.finish()


@cocotb.test()
async def test_fast_load_path(dut):
    """A deposit into u_regfile.weights_q (the testbenches' fast load) equals programming over I2C."""
    env = Env(dut)
    sb = await env.start()
    window = env.cfg.regmap.weights
    image = bytearray(env.random_bytes(window.n_bytes))
    image[-1] &= window.byte_mask(window.last)
    getattr(_regfile(dut), WEIGHTS_REGISTER).value = int.from_bytes(bytes(image), "little")
    for i, byte in enumerate(image):
        sb.model.write_byte(window.base + i, byte)
    await ClockCycles(dut.clk, 2)
    picks = sorted({0, window.n_bytes - 4} | {env.rng.randrange(window.n_bytes - 4) for _ in range(3)})
    for start in picks:
        await sb.read(window.base + start, 4)
    await env.finish()


@cocotb.test()
async def test_checker_detects_mismatch(dut):
    """Proof the checker can fail: a byte the model was told wrongly, and a bit flipped behind its back."""
    env = Env(dut)
    sb = await env.start()
    sb.quiet = True
    window = env.cfg.regmap.weights
    address = window.base + 5
    await sb.write(address, b"\x3c")
    sb.model.write_byte(address, 0xC3)  # the model now believes a different byte
    found = await sb.check_state()
    caught_model = any(f"0x{address:04X}" in text and "weights_o" in text for text in found)
    sb.model.write_byte(address, 0x3C)
    # a single upset in the weight register, not made through the bus
    weights_q = getattr(_regfile(dut), WEIGHTS_REGISTER)
    flipped = resolved(weights_q) ^ (1 << (8 * 9 + 2))
    weights_q.value = flipped
    await ClockCycles(dut.clk, 2)
    found_flip = await sb.check_state()
    caught_flip = any("weights_o" in text and f"0x{window.base + 9:04X}" in text for text in found_flip)
    # a wrong ELINK value in the model shows both on elinks_o and in the register read-back
    sb.model.values["ELINK_MODE"] = 2
    found_elink = await sb.check_state()
    caught_elink = (any("elinks_o" in t for t in found_elink)
                    and any("read" in t and f"0x{env.cfg.regmap.registers[0].address:04X}" in t
                            for t in found_elink))
    cocotb.log.info("checker reports: %s | %s | %s", found, found_flip, found_elink)
    sb.errors.clear()
    assert caught_model, f"checker missed a wrong model byte: {found}"
    assert caught_flip, f"checker missed a flipped weight bit: {found_flip}"
    assert caught_elink, f"checker missed a wrong e-link mode: {found_elink}"
