"""I2C verification components: driver, bus monitor, scoreboard and random traffic.

The controller is cocotbext-i2c's `I2cMaster`, driven a byte at a time so that every ACK/NACK is
seen (it only logs them). `asicgen.core.i2c.RegisterFileModel` is the reference: the scoreboard
compares every transaction's ACKs, read data and the writes that reach the register-file bus with
it, and the whole register state (weights_o, elinks_o, enable_o, the control registers read over
I2C) on request. `Env` puts them around the wrapper `i2c_tb_top` (verif/tb_i2c.py); the driver and
`I2cTraffic` also serve ae_top's testbenches (verif/tb_top.py, verif/tb_seu.py).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.i2c import I2cMaster

from asicgen.core.design import ADDRESS_BITS, Design
from asicgen.core.i2c import DEFAULT_DEVICE_ADDRESS, DEFAULT_GLITCH_FILTER, RegisterFileModel
from asicgen.core.regmap import RegisterMap
from rtl_wrappers.generate import READ_MISS
from verif.params import CLOCK_NS
from verif.runner import load_config

RESET_CLOCKS = 4
#: clocks after reset before the target's filters hold the pad values
SETTLE_CLOCKS = 16
ADDRESS_MAX = (1 << ADDRESS_BITS) - 1


# -- configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class TbConfig:
    """The parameters of a test on i2c_tb_top, from the JSON config the launching side wrote."""

    design: Design
    regmap: RegisterMap
    device_address: int
    glitch_filter: int
    scl_hz: float
    full_image_scl_hz: float
    seed: int
    timing_file: str | None

    @classmethod
    def load(cls) -> TbConfig:
        raw = load_config()
        design = Design.from_raw(raw["design"])
        return cls(design, RegisterMap.for_design(design),
                   int(raw.get("device_address", DEFAULT_DEVICE_ADDRESS)),
                   int(raw.get("glitch_filter", DEFAULT_GLITCH_FILTER)), float(raw.get("scl_hz", 400e3)),
                   float(raw.get("full_image_scl_hz", 1e6)), int(raw.get("seed", 1)),
                   raw.get("timing_file"))


# -- driver --------------------------------------------------------------------------------


class I2cDriver:
    """I2C controller on the wrapper's bus; `scl_hz` is the real SCL frequency.

    cocotbext-i2c's `speed` is half the SCL frequency (a bit takes two of its
    periods: half low, one high, half low), so it is given 2 * scl_hz.
    """

    def __init__(self, dut, scl_hz: float):
        self.dut = dut
        self.use_speed(scl_hz)

    def use_speed(self, scl_hz: float) -> None:
        self.scl_hz = scl_hz
        self.master = I2cMaster(sda=self.dut.sda, sda_o=self.dut.ctrl_sda_o, scl=self.dut.scl,
                                scl_o=self.dut.ctrl_scl_o, speed=2 * scl_hz)
        self.master.log.setLevel("WARNING")

    async def send_byte(self, byte: int) -> bool:
        """Send a byte; True when the target ACKed it."""
        return not await self.master.send_byte(byte)

    async def write(self, device: int, address: int, data: bytes, stop: bool = True) -> list[bool]:
        """START, device + W, address MSB first, data; the ACK of every byte sent."""
        await self.master.send_start()
        acks = [await self.send_byte(device << 1)]
        for byte in (address >> 8, address & 0xFF, *data):
            acks.append(await self.send_byte(byte))
        if stop:
            await self.master.send_stop()
        return acks

    async def read_current(self, device: int, count: int, stop: bool = True) -> tuple[bool, bytes]:
        """(Repeated) START, device + R, `count` bytes (the last one NACKed)."""
        await self.master.send_start()
        ack = await self.send_byte((device << 1) | 1)
        data = bytearray()
        for k in range(count):
            data.append(await self.master.recv_byte(k == count - 1))
        if stop:
            await self.master.send_stop()
        return ack, bytes(data)

    async def read(self, device: int, address: int, count: int) -> tuple[list[bool], bytes]:
        """Write the address, repeated START, read `count` bytes, STOP."""
        acks = await self.write(device, address, b"", stop=False)
        ack, data = await self.read_current(device, count)
        return acks + [ack], data


# -- monitor ---------------------------------------------------------------------------------


class BusMonitor:
    """Records the register-file bus strobes: (address, data) written, addresses read."""

    def __init__(self, dut):
        self.dut = dut
        self.writes: list[tuple[int, int]] = []
        self.reads: list[int] = []
        self.bad: list[str] = []
        cocotb.start_soon(self._watch(dut.bus_we, self._on_write))
        cocotb.start_soon(self._watch(dut.bus_re, self._on_read))

    async def _watch(self, strobe, action) -> None:
        while True:
            await RisingEdge(strobe)
            action()

    def _on_write(self) -> None:
        addr, data = self.dut.bus_addr.value, self.dut.bus_wdata.value
        if not (addr.is_resolvable and data.is_resolvable):
            self.bad.append(f"write strobe with X/Z address {addr} or data {data}")
            return
        self.writes.append((addr.to_unsigned(), data.to_unsigned()))

    def _on_read(self) -> None:
        addr = self.dut.bus_addr.value
        if not addr.is_resolvable:
            self.bad.append(f"read strobe with X/Z address {addr}")
            return
        self.reads.append(addr.to_unsigned())

    def take(self) -> tuple[list[tuple[int, int]], list[int]]:
        writes, reads = self.writes, self.reads
        self.writes, self.reads = [], []
        return writes, reads


# -- scoreboard ------------------------------------------------------------------------------


@dataclass
class Scoreboard:
    """Drives transactions, predicts them with the model, records every mismatch."""

    dut: object
    cfg: TbConfig
    driver: I2cDriver
    monitor: BusMonitor
    model: RegisterFileModel = field(init=False)
    errors: list[str] = field(default_factory=list)
    #: where the target's address pointer should be
    pointer: int = 0
    #: log mismatches as info (for the test that provokes them on purpose)
    quiet: bool = False

    def __post_init__(self) -> None:
        self.model = RegisterFileModel(self.cfg.regmap)

    @property
    def device(self) -> int:
        return self.cfg.device_address

    def error(self, text: str) -> None:
        (cocotb.log.info if self.quiet else cocotb.log.error)(text)
        self.errors.append(text)

    def reset_model(self) -> None:
        self.model.reset()
        self.pointer = 0
        self.monitor.take()

    def expected_read(self, address: int, count: int) -> bytes:
        """The target reads from its pointer whatever the ACK of the address was."""
        regmap = self.cfg.regmap
        return bytes(self.model.read_byte(a) if regmap.in_map(a) else READ_MISS
                     for a in self._addresses(address, count))

    @staticmethod
    def _addresses(address: int, count: int) -> list[int]:
        return [min(address + i, ADDRESS_MAX) for i in range(count)]

    async def write(self, address: int, data: bytes, device: int | None = None) -> list[bool]:
        device = self.device if device is None else device
        got = await self.driver.write(device, address, data)
        if device != self.device:
            expected = [False] * (3 + len(data))
            bus_writes: list[tuple[int, int]] = []
        else:
            acks = self.model.write(address, data)
            accepted = sum(acks[1:])
            expected = write_acks(acks, len(data))
            bus_writes = [(address + i, data[i]) for i in range(accepted)]
            self.pointer = min(address + accepted, ADDRESS_MAX)
        where = f"write 0x{address:04X} {data.hex(' ')} (device 0x{device:02X})"
        if got != expected:
            self.error(f"{where}: ACKs {_acks(got)}, model {_acks(expected)}")
        self._check_bus(where, bus_writes, [])
        return got

    async def read(self, address: int, count: int, device: int | None = None) -> bytes:
        device = self.device if device is None else device
        acks, data = await self.driver.read(device, address, count)
        where = f"read 0x{address:04X} x{count} (device 0x{device:02X})"
        if device != self.device:
            expected_acks, expected = [False] * 4, bytes([READ_MISS] * count)
            bus_reads: list[int] = []
        else:
            in_map = self.cfg.regmap.in_map(address)
            expected_acks = read_acks(in_map)
            expected = self.expected_read(address, count)
            model_data = self.model.read(address, count)
            if in_map and model_data != expected:
                self.error(f"{where}: testbench expectation {expected.hex()} != model {model_data.hex()}")
            bus_reads = [a for a in self._addresses(address, count) if self.cfg.regmap.in_map(a)]
            self.pointer = min(address + count, ADDRESS_MAX)
        if acks != expected_acks:
            self.error(f"{where}: ACKs {_acks(acks)}, expected {_acks(expected_acks)}")
        if data != expected:
            self.error(f"{where}: read {data.hex(' ')}, model {expected.hex(' ')}")
        self._check_bus(where, [], bus_reads)
        return data

    async def read_current(self, count: int) -> bytes:
        """A read without an address phase continues at the pointer."""
        ack, data = await self.driver.read_current(self.device, count)
        expected = self.expected_read(self.pointer, count)
        where = f"read at pointer 0x{self.pointer:04X} x{count}"
        if not ack:
            self.error(f"{where}: device address NACKed")
        if data != expected:
            self.error(f"{where}: read {data.hex(' ')}, model {expected.hex(' ')}")
        bus_reads = [a for a in self._addresses(self.pointer, count) if self.cfg.regmap.in_map(a)]
        self._check_bus(where, [], bus_reads)
        self.pointer = min(self.pointer + count, ADDRESS_MAX)
        return data

    def _check_bus(self, where: str, writes: list[tuple[int, int]], reads: list[int]) -> None:
        got_writes, got_reads = self.monitor.take()
        if got_writes != writes:
            self.error(f"{where}: register-file writes {_pairs(got_writes)}, model {_pairs(writes)}")
        if got_reads != reads:
            self.error(f"{where}: register-file reads {_hexes(got_reads)}, model {_hexes(reads)}")
        for text in self.monitor.bad:
            self.error(f"{where}: {text}")
        self.monitor.bad.clear()

    # -- hardware-side events (not part of the model's bus view) ----------------------

    def model_flags(self, flags: int) -> None:
        reg = self.cfg.regmap.reg.TMR_ERR
        # bit i of the RTL's flag vector is the i-th field of the register
        raised = {f.name: (flags >> i) & 1 for i, f in enumerate(reg.fields)}
        self.model.values[reg.name] |= reg.encode(**raised)

    def model_upsets(self, count: int) -> None:
        limit = self.cfg.regmap.counter_max
        self.model.upset_count = min(self.model.upset_count + count, limit)

    # -- whole-state comparison ---------------------------------------------------------

    async def check_state(self, read_weights: bool = False) -> list[str]:
        """Compare every output and every control register with the model; returns the mismatches."""
        before = len(self.errors)
        regmap = self.cfg.regmap
        weights = resolved(self.dut.weights)
        if weights is None:
            self.error("state: weights_o has X/Z bits")
        else:
            got = weights.to_bytes(regmap.weights.n_bytes, "little")
            want = self.model.weight_image()
            diff = [i for i in range(len(want)) if got[i] != want[i]]
            if diff:
                self.error(f"state: weights_o differs at {len(diff)} bytes, first at 0x{diff[0]:04X}: "
                           f"{got[diff[0]]:02x}, model {want[diff[0]]:02x} (bytes "
                           + ", ".join(f"0x{d:04X}" for d in diff[:8]) + ")")
        for port, register, name in (("elinks", "ELINK_MODE", "elinks"), ("enable", "CTRL", "enable")):
            value = resolved(getattr(self.dut, port))
            want = self.model.field_value(register, name)
            if value != want:
                self.error(f"state: {port}_o = {'X/Z' if value is None else value}, model {want}")
        first = regmap.registers[0].address
        span = regmap.registers[-1].address - first + 2  # one byte past the last register
        await self.read(first, span)
        if read_weights:
            await self.read(regmap.weights.base, regmap.weights.n_bytes)
        return self.errors[before:]

    def assert_clean(self) -> None:
        assert not self.errors, f"{len(self.errors)} mismatches, first: {self.errors[0]}"


def write_acks(model_acks: list[bool], n_data: int) -> list[bool]:
    """The ACKs a write of `n_data` bytes to the target must see: the device address and the high
    address byte, then what the model ACKed (the low address byte, the data bytes it took), NACK
    for the rest."""
    return [True, True] + model_acks + [False] * (1 + n_data - len(model_acks))


def read_acks(in_map: bool) -> list[bool]:
    """The ACKs of a read: device + W, the address bytes (the low one NACKed outside the map),
    device + R."""
    return [True, True, in_map, True]


def resolved(handle) -> int | None:
    """The unsigned value of a signal, None when any bit is X or Z."""
    value = handle.value
    if not value.is_resolvable:
        return None
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)


def _acks(acks: list[bool]) -> str:
    return "".join("A" if a else "N" for a in acks)


def _listing(items: list[str], limit: int = 12) -> str:
    return "[" + ", ".join(items[:limit]) + (" ..." if len(items) > limit else "") + "]"


def _pairs(pairs: list[tuple[int, int]]) -> str:
    return _listing([f"{a:04X}:{d:02x}" for a, d in pairs])


def _hexes(values: list[int]) -> str:
    return _listing([f"{a:04X}" for a in values])


# -- environment -----------------------------------------------------------------------------


class Env:
    """Clock, reset, driver, monitor and scoreboard of one test on i2c_tb_top."""

    def __init__(self, dut):
        self.dut = dut
        self.cfg = TbConfig.load()
        self.rng = random.Random(self.cfg.seed)
        self.driver: I2cDriver | None = None
        self.sb: Scoreboard | None = None

    async def start(self, scl_hz: float | None = None) -> Scoreboard:
        dut = self.dut
        dut.rst_n.value = 0
        dut.scl_glitch.value = 0
        dut.sda_glitch.value = 0
        dut.dev_addr.value = self.cfg.device_address
        dut.tmr_flags.value = 0
        dut.upset.value = 0
        self.driver = I2cDriver(dut, scl_hz or self.cfg.scl_hz)
        Clock(dut.clk, CLOCK_NS, unit="ns").start()
        await self.reset()
        self.sb = Scoreboard(dut, self.cfg, self.driver, BusMonitor(dut))
        return self.sb

    async def reset(self) -> None:
        self.dut.rst_n.value = 0
        await ClockCycles(self.dut.clk, RESET_CLOCKS)
        self.dut.rst_n.value = 1
        await ClockCycles(self.dut.clk, SETTLE_CLOCKS)

    async def finish(self) -> None:
        """The closing whole-state comparison every test ends with."""
        assert self.sb is not None
        await self.sb.check_state()
        self.sb.assert_clean()

    def random_bytes(self, n: int) -> bytes:
        return bytes(self.rng.randrange(256) for _ in range(n))

    async def pulse(self, signal, value: int, clocks: int = 1) -> None:
        """Drive `value` for `clocks` clock cycles, starting just after a rising edge."""
        await RisingEdge(self.dut.clk)
        signal.value = value
        await ClockCycles(self.dut.clk, clocks)
        signal.value = 0


# -- random traffic -------------------------------------------------------------------------


class I2cTraffic:
    """Random slow-control traffic, checked against the register-file model: reads of the
    control registers and of weight bytes, writes that keep the configuration (a control
    register's own value, a value outside its legal list, weight bytes rewritten)."""

    KINDS = ("control read", "mode write", "ctrl write", "weights read", "weights rewrite")

    def __init__(self, driver: I2cDriver, device: int, model: RegisterFileModel, rng: random.Random):
        self.driver, self.device, self.model, self.rng = driver, device, model, rng
        self.errors: list[str] = []
        self.transactions = 0
        self.kinds: Counter[str] = Counter()
        reg = model.regmap.reg
        self.control = [reg.ID, reg.VERSION, reg.BUILD, reg.ELINK_MODE, reg.CTRL]
        mode = reg.ELINK_MODE.field.elinks
        self.illegal_modes = [v for v in range(1 << mode.width) if v not in mode.legal]

    async def write(self, address: int, data: bytes) -> None:
        got = await self.driver.write(self.device, address, data)
        expected = write_acks(self.model.write(address, data), len(data))
        self.transactions += 1
        if got != expected:
            self.errors.append(f"write 0x{address:04X} {data.hex(' ')}: ACKs {got}, expected {expected}")

    async def read(self, address: int, count: int) -> bytes:
        acks, data = await self.driver.read(self.device, address, count)
        expected = self.model.read(address, count)
        expected_acks = read_acks(expected is not None)
        self.transactions += 1
        if acks != expected_acks or data != expected:
            self.errors.append(f"read 0x{address:04X} x{count}: ACKs {acks}, data {data.hex(' ')}; expected "
                               f"{expected_acks}, {expected.hex(' ') if expected else None}")
        return data

    async def transaction(self, kind: str) -> None:
        """One transaction of a kind in KINDS, with random data."""
        rng, window = self.rng, self.model.regmap.weights
        self.kinds[kind] += 1
        if kind == "control read":
            await self.read(self.control[0].address, len(self.control))
        elif kind == "mode write":
            mode = self.model.regmap.reg.ELINK_MODE
            value = self.model.values[mode.name] if rng.random() < 0.5 else rng.choice(self.illegal_modes)
            await self.write(mode.address, bytes([value]))
            await self.read(mode.address, 1)
        elif kind == "ctrl write":
            ctrl = self.model.regmap.reg.CTRL
            await self.write(ctrl.address, bytes([self.model.values[ctrl.name]]))
        elif kind in ("weights read", "weights rewrite"):
            start = rng.randrange(window.n_bytes)
            count = min(rng.randint(1, 14), window.last + 1 - start)
            if kind == "weights read":
                await self.read(start, count)
            else:
                await self.write(start, self.model.read(start, count))
        else:
            raise ValueError(f"unknown I2C transaction kind {kind!r}")
