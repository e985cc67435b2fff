"""I2C fuzzing: random line activity against a line-level model of the target.

`TargetModel` is the I2C target of SPEC section 8 seen from its pads: it follows every
change of SCL and SDA (START and STOP are SDA edges while SCL is high, a bit is sampled on
the SCL rise, the target changes what it drives on the SCL fall), and predicts what the
target drives on SDA and which register-file bus writes and reads each change causes. The
register file behind it is `asicgen.core.i2c.RegisterFileModel`.

`Fuzzer` drives the controller's lines one change at a time, each held long enough for the
target's synchroniser and glitch filter, from a seeded random mix of events: single bits,
whole bytes biased towards the device address and register addresses in and out of the
map, START and STOP (also inside bytes and acknowledge slots), raw toggles of either line,
glitches shorter than the filter, resets in the middle of transfers, and well-formed
write-and-read-back transactions that prove the target still answers.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from asicgen.core.design import ADDRESS_BITS, Design
from asicgen.core.i2c import RegisterFileModel
from asicgen.core.regmap import RegisterMap
from rtl_wrappers.generate import READ_MISS
from verif.i2c_launch import run_i2c, write_wrappers
from verif.runner import Public

ADDRESS_MAX = (1 << ADDRESS_BITS) - 1
#: the byte kinds of a transfer, in order
DEVICE, REG_HI, REG_LO, DATA = "device", "register high", "register low", "data"


@dataclass
class BusOps:
    writes: list[tuple[int, int]] = field(default_factory=list)
    reads: list[int] = field(default_factory=list)


class TargetModel:
    """Line-level model of the I2C target (7-bit device address, 16-bit register address MSB
    first, auto-increment saturating at 0xFFFF, NACK outside the map, no clock stretching)."""

    def __init__(self, regfile: RegisterFileModel, device: int):
        self.regfile = regfile
        self.regmap: RegisterMap = regfile.regmap
        self.device = device
        self.reset(1, 1)

    def reset(self, scl: int, ctrl_sda: int) -> None:
        """The target after `rst_n`: idle, SDA released, the lines taken at their levels."""
        self.state, self.kind = "idle", DEVICE
        self.bits = self.shift = self.addr_hi = self.addr = 0
        self.read = self.ctrl_ack = False
        self.drive = 1
        self.scl, self.sda = scl, ctrl_sda

    # -- line events --------------------------------------------------------------------

    def lines(self, scl: int, ctrl_sda: int) -> BusOps:
        """One change of the controller's lines (at most one of them); the bus operations it causes."""
        ops = BusOps()
        sda = ctrl_sda & self.drive
        if scl == self.scl and sda != self.sda and scl:
            self._start() if sda == 0 else self._stop()
        elif scl != self.scl:
            if scl:
                self._rise(sda)
            else:
                self._fall(ops)
        self.scl = scl
        self.sda = ctrl_sda & self.drive  # what the target drives changes with SCL low only
        return ops

    def _start(self) -> None:
        self.state, self.kind, self.bits, self.read, self.drive = "rx", DEVICE, 0, False, 1

    def _stop(self) -> None:
        self.state, self.drive = "idle", 1

    def _rise(self, sda: int) -> None:
        if self.state == "rx":
            self.shift = ((self.shift << 1) | sda) & 0xFF
            self.bits = (self.bits + 1) % 8
            if self.bits == 0:
                self.state = "rx_end"
                if self.kind == REG_LO:
                    self.addr = (self.addr_hi << 8) | self.shift
        elif self.state == "tx_ack":
            self.ctrl_ack = sda == 0

    def _fall(self, ops: BusOps) -> None:
        if self.state == "rx_end":
            self._byte_received(ops)
        elif self.state == "ack":
            self.bits = 0
            if self.read:
                self._transmit(ops)
            else:
                self.state, self.drive = "rx", 1
        elif self.state == "tx":
            if self.bits == 7:
                self.state, self.drive = "tx_ack", 1
            else:
                self.bits += 1
                self.drive = (self.shift >> (7 - self.bits)) & 1
        elif self.state == "tx_ack":
            if self.ctrl_ack:
                self.bits = 0
                self._transmit(ops)
            else:
                self.state = "idle"

    def _byte_received(self, ops: BusOps) -> None:
        hit = self.regmap.in_map(self.addr)
        ack = {DEVICE: self.shift >> 1 == self.device, REG_HI: True}.get(self.kind, hit)
        if not ack:
            self.state = "idle"
            return
        self.state, self.drive = "ack", 0
        if self.kind == DEVICE:
            self.read, self.kind = bool(self.shift & 1), REG_HI
        elif self.kind == REG_HI:
            self.addr_hi, self.kind = self.shift, REG_LO
        elif self.kind == REG_LO:
            self.kind = DATA
        else:
            self.regfile.write_byte(self.addr, self.shift)
            ops.writes.append((self.addr, self.shift))
            self.addr = min(self.addr + 1, ADDRESS_MAX)

    def _transmit(self, ops: BusOps) -> None:
        hit = self.regmap.in_map(self.addr)
        self.shift = self.regfile.read_byte(self.addr) if hit else READ_MISS
        if hit:
            ops.reads.append(self.addr)
        self.addr = min(self.addr + 1, ADDRESS_MAX)
        self.state, self.drive = "tx", self.shift >> 7


# -- the fuzzer -------------------------------------------------------------------------------

#: relative weights of the fuzz events
EVENTS = {"bit": 6, "byte": 8, "start": 3, "stop": 3, "toggle": 3, "glitch": 2, "reset": 0.3,
          "garbled": 6, "transaction": 1}
#: what cuts a garbled transfer short
INTERRUPTIONS = ("start", "stop", "toggle", "glitch", "reset")


@dataclass
class LinePort:
    """What the fuzzer needs from the testbench: drive the lines, wait, observe."""

    set_lines: Callable[[int, int], object]  # async (scl, sda) -> settle and return
    glitch: Callable[[str, int], object]  # async (line, clocks)
    reset: Callable[[], object]  # async
    observe: Callable[[], tuple[int | None, BusOps]]  # (target's SDA output or None for X/Z, bus ops)


class Fuzzer:
    def __init__(self, regmap: RegisterMap, device: int, glitch_filter: int, port: LinePort,
                 rng: random.Random, model_device: int | None = None):
        self.regmap, self.device, self.port, self.rng = regmap, device, port, rng
        self.glitch_filter = glitch_filter
        # the checker's own test gives the model a wrong device address
        self.model = TargetModel(RegisterFileModel(regmap), device if model_device is None else model_device)
        self.scl, self.sda = 1, 1
        self.errors: list[str] = []
        self.events: Counter[str] = Counter()
        self.steps = 0
        self.transactions_ok = 0
        #: bytes the well-formed transactions wrote (and read back)
        self.transaction_bytes = 0
        #: register-file bus writes and reads the target made (each one checked against the model)
        self.bus_writes = self.bus_reads = 0

    def error(self, text: str) -> None:
        self.errors.append(f"step {self.steps}: {text}")

    # -- one line change, checked -----------------------------------------------------

    async def change(self, scl: int, sda: int) -> int:
        """Drive the lines, let the target react, compare it with the model; the SDA line level."""
        expected = self.model.lines(scl, sda)
        self.bus_writes += len(expected.writes)
        self.bus_reads += len(expected.reads)
        self.scl, self.sda = scl, sda
        await self.port.set_lines(scl, sda)
        self.steps += 1
        target_sda, ops = self.port.observe()
        if target_sda is None:
            self.error("target SDA output is X/Z")
        elif target_sda != self.model.drive:
            self.error(f"target drives SDA {target_sda}, model {self.model.drive} "
                       f"(state {self.model.state}, {self.model.kind} byte, bit {self.model.bits})")
        if ops.writes != expected.writes:
            self.error(f"register-file writes {ops.writes}, model {expected.writes}")
        if ops.reads != expected.reads:
            self.error(f"register-file reads {ops.reads}, model {expected.reads}")
        return sda & (self.model.drive if target_sda is None else target_sda)

    async def bit(self, value: int) -> int:
        """One clock pulse with the controller driving `value`; the level sampled on the SCL rise."""
        if self.scl:
            await self.change(0, self.sda)
        if self.sda != value:
            await self.change(0, value)
        sampled = await self.change(1, value)
        await self.change(0, value)
        return sampled

    async def start(self) -> None:
        if self.scl and not self.sda:
            await self.change(0, 0)
        if not self.sda:
            await self.change(self.scl, 1)
        if not self.scl:
            await self.change(1, 1)
        await self.change(1, 0)
        await self.change(0, 0)

    async def stop(self) -> int:
        """A STOP; the SDA line level after it (0 when the target held SDA low, hiding it)."""
        if self.scl:
            await self.change(0, self.sda)
        if self.sda:
            await self.change(0, 0)
        await self.change(1, 0)
        return await self.change(1, 1)

    async def release_bus(self) -> None:
        """STOP until one is seen: a target sending a byte holds SDA low; clocking with SDA
        released reaches its acknowledge slot, where the released SDA is a NACK (the usual
        I2C bus recovery, at most 9 clocks)."""
        for _ in range(10):
            if await self.stop():
                return
            await self.bit(1)
        self.error("SDA still held low after 9 clocks with SDA released")

    async def byte(self, value: int, ack: int = 1) -> tuple[int, int]:
        """Eight bits MSB first, then the acknowledge slot with the controller driving `ack`
        (1: released); (the byte on the line, the acknowledge level)."""
        line = 0
        for i in range(7, -1, -1):
            line = (line << 1) | await self.bit((value >> i) & 1)
        return line, await self.bit(ack)

    # -- events -----------------------------------------------------------------------------

    def _interesting_address(self) -> int:
        """In the weight window, a register, just past the window, or the top of the address space."""
        rng, window = self.rng, self.regmap.weights
        candidates = [window.base + rng.randrange(window.n_bytes), rng.choice(self.regmap.registers).address,
                      window.base + window.n_bytes + rng.randrange(4), ADDRESS_MAX - rng.randrange(2),
                      rng.randrange(ADDRESS_MAX + 1)]
        return rng.choices(candidates, (4, 3, 1, 1, 1))[0]

    def _device_byte(self, read: bool) -> int:
        device = self.device if self.rng.random() < 0.9 else self.device ^ (1 << self.rng.randrange(7))
        return (device << 1) | int(read)

    def _interesting_byte(self) -> int:
        rng = self.rng
        choice = rng.random()
        if choice < 0.4:
            return self._device_byte(rng.random() < 0.5)
        if choice < 0.6:
            address = self._interesting_address()
            return (address >> 8) if rng.random() < 0.5 else address & 0xFF
        return rng.randrange(256)

    async def garbled(self) -> None:
        """A write or a read, well formed except that each byte may be cut short (after 0 to 8
        of its bits) by a START, a STOP, a toggle, a glitch or a reset; the controller ACKs or
        NACKs read bytes at random and may leave out the STOP."""
        rng = self.rng
        read = rng.random() < 0.35
        address = self._interesting_address()
        sequence = [self._device_byte(False), address >> 8, address & 0xFF]
        if not read:
            sequence += [rng.randrange(256) for _ in range(rng.randrange(6))]
        await self.start()
        for value in sequence:
            if rng.random() < 0.08:
                await self._cut(value)
                return
            await self.byte(value)
        if read:
            await self.start()
            await self.byte(self._device_byte(True))
            for _ in range(rng.randrange(1, 5)):
                if rng.random() < 0.08:
                    await self._cut(0xFF)
                    return
                await self.byte(0xFF, ack=rng.randrange(2))
        if rng.random() < 0.8:
            await self.stop()

    async def _cut(self, value: int) -> None:
        for i in range(self.rng.randrange(9)):
            await self.bit((value >> (7 - i)) & 1)
        await self.event(self.rng.choice(INTERRUPTIONS))

    async def event(self, kind: str) -> None:
        rng = self.rng
        self.events[kind] += 1
        if kind == "bit":
            await self.bit(rng.randrange(2))
        elif kind == "byte":
            await self.byte(self._interesting_byte(), rng.randrange(2))
        elif kind == "start":
            await self.start()
        elif kind == "stop":
            await self.stop()
        elif kind == "toggle":
            await (self.change(1 - self.scl, self.sda) if rng.random() < 0.5 else
                   self.change(self.scl, 1 - self.sda))
        elif kind == "glitch":
            if self.glitch_filter > 1:
                await self.port.glitch(rng.choice(("scl", "sda")), rng.randrange(1, self.glitch_filter))
        elif kind == "reset":
            await self.port.reset()
            self.model.reset(self.scl, self.sda)
            self.model.regfile.reset()
            target_sda, ops = self.port.observe()
            if target_sda != 1 or ops.writes:
                self.error(f"after reset: target SDA {target_sda}, writes {ops.writes}")
        elif kind == "garbled":
            await self.garbled()
        elif kind == "transaction":
            await self.transaction()
        else:
            raise ValueError(f"unknown fuzz event {kind!r}")

    async def transaction(self) -> None:
        """STOP, a write of random bytes, then their read-back (address, repeated START, read):
        the target must still answer. Checked on the line, independently of the model."""
        rng, window = self.rng, self.regmap.weights
        count = rng.randint(1, 4)
        address = window.base + rng.randrange(window.n_bytes - count + 1)
        data = [rng.randrange(256) & window.byte_mask(address + i) for i in range(count)]
        header = (self.device << 1, address >> 8, address & 0xFF)
        await self.release_bus()
        await self.start()
        acks = [(await self.byte(b))[1] for b in (*header, *data)]
        await self.stop()
        await self.start()
        acks += [(await self.byte(b))[1] for b in header]
        await self.start()
        acks.append((await self.byte((self.device << 1) | 1))[1])
        read = [(await self.byte(0xFF, ack=int(i == count - 1)))[0] for i in range(count)]
        await self.stop()
        if any(acks) or read != data:
            self.error(f"well-formed write and read-back at 0x{address:04X}: ACK levels {acks} "
                       f"(all 0 expected), wrote {data}, read {read}")
        else:
            self.transactions_ok += 1
            self.transaction_bytes += count

    async def run(self, count: int, progress: Callable[[int], None] | None = None) -> None:
        """`count` random events then one well-formed transaction; `progress(done)` is called
        every twentieth of the run (long runs take tens of minutes)."""
        kinds, weights = list(EVENTS), list(EVENTS.values())
        every = max(1, count // 20)
        for done in range(1, count + 1):
            await self.event(self.rng.choices(kinds, weights)[0])
            if progress is not None and done % every == 0:
                progress(done)
        await self.transaction()

    def final_state(self, weights: int | None, elinks: int | None, enable: int | None) -> None:
        """The register file's outputs against the model after the run."""
        model = self.model.regfile
        if weights is None or weights.to_bytes(self.regmap.weights.n_bytes, "little") != model.weight_image():
            self.error("weight image differs from the model (or has X/Z bits)")
        for name, got, want in (("elinks", elinks, model.field_value("ELINK_MODE", "elinks")),
                                ("enable", enable, model.field_value("CTRL", "enable"))):
            if got != want:
                self.error(f"{name} = {got}, model {want}")


# -- launching ---------------------------------------------------------------------------------


def run_fuzz(design: Design, build: Path, events: int, seed: int = 1, optimise: bool = True) -> dict:
    """Build i2c_tb_top for `design` and run `events` fuzz events (verif/tb_i2c_fuzz.py,
    test_fuzz); the run's summary with the build and run times."""
    sources = write_wrappers(design, build / "rtl", "verif.i2c_fuzz.run_fuzz")
    summary_file = build / "fuzz_summary.json"
    result = run_i2c(sources, design, build / "sim", "verif.tb_i2c_fuzz", "test_fuzz", optimise=optimise,
                     public=[Public("i2c_tb_top", "*")],  # its own ports only: Verilator optimises the rest
                     seed=seed, fuzz_events=events, summary_file=str(summary_file))
    if not summary_file.exists():
        raise RuntimeError(f"the fuzz run wrote no summary; see {build / 'sim'}")
    summary = json.loads(summary_file.read_text())
    summary.update(passed=not result.failed, build_s=round(result.build_seconds, 1),
                   run_s=round(result.run_seconds, 1))
    return summary
