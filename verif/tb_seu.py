"""cocotb tests: single-event upsets in ae_top (SPEC sections 9 and 10).

Launched by tests/test_seu.py and bench/run_seu.py (`verif.seu.run_seu`) on the test
wrapper `tb_seu_top` (verif/seu_wrapper.py), around the TMR-hardened netlist or the
plain RTL; the wrapper streams the modules and checks every output. The config names
the design, the weights, the build (`tmr` or `plain`), the registers of the TMR
report and the campaign sizes; each test writes its counts to
`<stats_dir>/<test>.json`.

* hardened build: upsets while modules stream and while I2C traffic runs; outputs
  bit-exact, every upset flagged with its class (the class flags before the next
  edge, the registered `tmr_err` in the clock after the upset, low again one clock
  later), copies repaired on the next edge, upset counter = number of upsets,
  sticky flags = the classes hit, the weight image read back over I2C = the
  programmed one; flags per class and counter saturation one by one; two upsets in
  one triplet (the documented limit); upsets in the registers left single change
  nothing.
* plain build: the same injector into the single registers corrupts outputs.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from asicgen.core.design import Design
from asicgen.core.i2c import RegisterFileModel, image_writes
from asicgen.core.naming import ELINKS_REGISTER, ENABLE_REGISTER, WEIGHTS_REGISTER, regfile_register
from asicgen.core.regmap import RegisterMap
from asicgen.core.weights import WeightSet
from rtl_wrappers.generate import COUNTER_SIGNAL
from verif.i2c_agent import I2cDriver, I2cTraffic
from verif.params import CLOCK_NS
from verif.runner import load_config
from verif.set_build import SetPoint
from verif.seu import Injector, Target, Upset, read, summarise
from verif.seu_wrapper import DEVICE, InjectionPort, StreamChecker
from verif.transients import TransientInjector, summarise_transients

#: clocks after reset before the I2C target's input filters hold the pad levels
SETTLE_CLOCKS = 20


class SeuBench:
    """Stream checker, injector, I2C controller and register-file model around tb_seu_top."""

    def __init__(self, dut: Any):
        self.dut = dut
        self.config = load_config()
        cfg = self.config
        self.design = Design.from_raw(cfg["design"])
        self.regmap = RegisterMap.for_design(self.design)
        self.weights = WeightSet.from_words(self.design, np.asarray(cfg["weights"], dtype=np.int64))
        self.image = self.weights.image()
        self.hardened = cfg["build"] == "tmr"
        self.rng = random.Random(cfg["seed"])
        self.stream = StreamChecker(dut, self.design.latency)
        self.targets = [Target.from_raw(t) for t in cfg["targets"]]
        self.classes = list(cfg["classes"])
        self.port = InjectionPort(dut, cfg["inject_table"])
        self.injector = self.new_injector(self.targets)
        self.model = RegisterFileModel(self.regmap)
        self.i2c: I2cDriver | None = None

    def new_injector(self, targets: list[Target]) -> Injector:
        """An injector into `targets`, knowing the values the weights and configuration hold."""
        injector = Injector(self.dut, self.dut.u_top, targets, self.classes, self.hardened, self.stream,
                            self.rng, self.port)
        held = {regfile_register(WEIGHTS_REGISTER): int.from_bytes(self.image, "little"),
                regfile_register(ELINKS_REGISTER): self.design.default_elinks,
                regfile_register(ENABLE_REGISTER): 1}
        for name, value in held.items():
            if name in injector.copies:
                injector.set_reference(name, value)
        return injector

    async def start(self) -> None:
        """Clock, reset, and the I2C controller once the target's input filters settled."""
        dut = self.dut
        dut.ctrl_scl_o.value = 1
        dut.ctrl_sda_o.value = 1
        dut.stream_on.value = 0
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        dut.rst_n.value = 0
        await ClockCycles(dut.clk, 3)
        dut.rst_n.value = 1
        await ClockCycles(dut.clk, SETTLE_CLOCKS)
        self.injector.count_from_now()  # the counters restarted with the reset
        self.i2c = I2cDriver(dut, float(self.config.get("scl_hz", 1e6)))

    def copies(self, name: str):
        return self.injector.copies[name]

    def load_weights(self) -> None:
        """Back door: the image into every copy of the weight register."""
        self.copies(regfile_register(WEIGHTS_REGISTER)).set(int.from_bytes(self.image, "little"))
        self.model.weight_bytes[:] = self.image

    async def program_weights(self) -> None:
        """The image over I2C, every byte ACKed."""
        writes = image_writes(self.image, self.regmap.weights.base)
        for w in writes:
            acks = await self.i2c.write(DEVICE, w.address, w.data)
            assert all(acks), f"write at 0x{w.address:04X} NACKed: {acks}"
        self.model.replay(writes)

    async def read_image(self) -> bytes:
        acks, data = await self.i2c.read(DEVICE, self.regmap.weights.base, self.regmap.weights.n_bytes)
        assert all(acks), f"weight read-back NACKed: {acks}"
        return data

    async def read_status(self) -> tuple[int, int]:
        """(TMR_ERR, UPSET_COUNT) over I2C."""
        flags = self.regmap.reg.TMR_ERR.address
        acks, data = await self.i2c.read(DEVICE, flags, 3)  # TMR_ERR, UPSET_COUNT_LO, _HI
        assert all(acks), f"status read NACKed: {acks}"
        return data[0], self.regmap.counter_value(data[1:])

    async def clear_status(self) -> None:
        acks = await self.i2c.write(DEVICE, self.regmap.reg.TMR_ERR.address, bytes([0xFF, 0]))
        assert all(acks), f"status clear NACKed: {acks}"

    def expected_flags(self, classes: set[str]) -> int:
        reg = self.regmap.reg.TMR_ERR
        return reg.encode(**{f.name: int(f.name in classes) for f in reg.fields})

    async def check_status(self, upsets: list[Upset], clear: bool = True) -> dict[str, int]:
        """TMR_ERR and UPSET_COUNT over I2C against `upsets` (those since the last clear): the
        classes they hit, and their number (the counter saturates); then clear them."""
        flags, count = await self.read_status()
        limit = self.regmap.counter_max
        if clear:
            await self.clear_status()
        return {"flags": flags, "flags_expected": self.expected_flags({u.error_class for u in upsets}),
                "count": count, "count_expected": min(len(upsets), limit)}

    def assert_replicas_hold_image(self) -> None:
        values = self.copies(regfile_register(WEIGHTS_REGISTER)).values()
        want = int.from_bytes(self.image, "little")
        assert all(v == want for v in values), "the weight copies differ from the programmed image"

    def finish_stream(self, injector: Injector | None = None) -> dict[str, Any]:
        """After the stream stopped: give the last bad outputs to their upset, and check that every
        module sent was compared."""
        injector = injector or self.injector
        injector.attribute()
        counts = self.stream.counts()
        assert counts["modules_compared"] == counts["modules_sent"], f"modules left unchecked: {counts}"
        return {**counts, "bad_outputs_before_any_upset": injector.orphans}

    def write_stats(self, name: str, stats: dict[str, Any]) -> None:
        directory = Path(self.config["stats_dir"])
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.json").write_text(json.dumps(stats, indent=1))
        cocotb.log.info("%s: %s", name, json.dumps({k: v for k, v in stats.items()
                                                    if not isinstance(v, (dict, list))}))


async def stream_speed(tb: SeuBench, clocks: int) -> dict[str, float]:
    """Stream about `clocks` clocks with no upset: the cost of a clock (simulation and the Python
    driver, monitor and scoreboard), against which a campaign's time per upset is measured."""
    if clocks <= 0:
        return {}
    t0, clock0 = time.perf_counter(), tb.stream.cycle()
    tb.stream.start()
    await ClockCycles(tb.dut.clk, clocks)
    await tb.stream.stop()
    seconds, done = time.perf_counter() - t0, tb.stream.cycle() - clock0
    stream = tb.finish_stream()
    assert stream["bad_outputs"] == 0, stream
    return {"clocks": done, "seconds": seconds, "clocks_per_second": done / seconds,
            "modules_compared": stream["modules_compared"]}


@cocotb.test()
async def upsets_while_streaming_and_over_i2c(dut):
    """Hardened build: single upsets in random copies of every protected register."""
    tb = SeuBench(dut)
    cfg, injector = tb.config, tb.injector
    await tb.start()
    t0, clock0 = time.perf_counter(), tb.stream.cycle()
    await tb.program_weights()
    program = {"seconds": time.perf_counter() - t0, "clocks": tb.stream.cycle() - clock0}
    await ClockCycles(dut.clk, 2)
    tb.assert_replicas_hold_image()
    flags, count = await tb.read_status()
    assert (flags, count) == (0, 0), f"status after reset and programming: flags {flags:#x}, count {count}"
    baseline = await stream_speed(tb, cfg.get("baseline_clocks", 0))

    t0 = time.perf_counter()
    clock0 = tb.stream.cycle()
    tb.stream.start()
    # the status is read and cleared over I2C every `counter_check_every` upsets, so that the
    # 16-bit counter is checked exactly however long the campaign
    gap, every = tuple(cfg.get("gap", (2, 8))), cfg.get("counter_check_every") or cfg["stream_upsets"]
    status_checks, since_clear = [], 0
    while len(injector.upsets) < cfg["stream_upsets"]:
        await injector.run(min(every, cfg["stream_upsets"] - len(injector.upsets)), gap=gap)
        if len(injector.upsets) < cfg["stream_upsets"]:
            status_checks.append(await tb.check_status(injector.upsets[since_clear:]))
            since_clear = len(injector.upsets)
    streaming = len(injector.upsets)
    traffic = I2cTraffic(tb.i2c, DEVICE, tb.model, tb.rng)
    injector.start(None, gap=gap)
    for i in range(cfg["i2c_transactions"]):
        await traffic.transaction(traffic.KINDS[i % len(traffic.KINDS)])
    await injector.stop()
    await tb.stream.stop()
    seconds, clocks = time.perf_counter() - t0, tb.stream.cycle() - clock0

    stream = tb.finish_stream()
    summary = summarise(injector.upsets)
    status_checks.append(await tb.check_status(injector.upsets[since_clear:]))
    flags_cleared, count_cleared = await tb.read_status()
    right = sum((c["flags"], c["count"]) == (c["flags_expected"], c["count_expected"]) for c in status_checks)
    t0 = time.perf_counter()
    image = await tb.read_image()
    read_back_seconds = time.perf_counter() - t0
    tb.assert_replicas_hold_image()
    stats = {**summary, **stream, "upsets_while_streaming": streaming,
             "upsets_during_i2c": len(injector.upsets) - streaming, "i2c_transactions": traffic.transactions,
             "i2c_kinds": dict(traffic.kinds),
             "i2c_errors": traffic.errors[:5], "i2c_error_count": len(traffic.errors),
             "status_checks": status_checks, "status_checks_right": right,
             "upsets_counted": sum(c["count"] for c in status_checks),
             "status_after_clear": [flags_cleared, count_cleared],
             "image_read_back_equal": image == tb.image, "clocks": clocks, "seconds": seconds,
             "upsets_per_second": len(injector.upsets) / seconds, "clocks_per_second": clocks / seconds,
             "stream_without_upsets": baseline, "programming_over_i2c": program,
             "read_back_seconds": read_back_seconds}
    tb.write_stats("campaign", stats)

    n = summary["injected"]
    assert summary["first_problems"] == [], summary["first_problems"]
    assert summary["escapes"] == 0 and stream["bad_outputs"] == 0, stream
    assert summary["flagged"] == n and summary["class_flag_right"] == n and summary["repaired"] == n
    assert summary["cleared"] == n
    assert not traffic.errors, traffic.errors[:3]
    assert stats["status_checks_right"] == len(status_checks), f"TMR_ERR, UPSET_COUNT: {status_checks}"
    assert (flags_cleared, count_cleared) == (0, 0), "status not cleared"
    assert image == tb.image, "weight image read over I2C differs from the programmed one"


@cocotb.test()
async def flags_name_the_class_and_counter_saturates(dut):
    """Hardened build: one upset per class raises exactly that TMR_ERR flag; the counter
    saturates at its maximum and any write clears it."""
    tb = SeuBench(dut)
    await tb.start()
    tb.load_weights()
    await ClockCycles(dut.clk, 2)
    per_class = {}
    for cls in tb.classes:
        await tb.clear_status()
        targets = [t for t in tb.targets if t.error_class == cls]
        target = tb.rng.choice(targets)
        await RisingEdge(dut.clk)
        upset = await tb.injector.upset(target, [tb.rng.randrange(3)], tb.rng.randrange(target.width), 7)
        flags, count = await tb.read_status()
        per_class[cls] = {"register": target.name, "flags": flags, "expected": tb.expected_flags({cls}),
                          "count": count, "flagged": upset.flagged, "repaired": upset.repaired}
        assert not upset.problems, upset.problems
        assert flags == tb.expected_flags({cls}) and count == 1, per_class[cls]

    limit = tb.regmap.counter_max
    counter = tb.copies(regfile_register(f"{COUNTER_SIGNAL}_q"))
    await RisingEdge(dut.clk)
    counter.set(limit - 3)  # all copies: a state, not an upset
    await ClockCycles(dut.clk, 2)
    for _ in range(6):
        await RisingEdge(dut.clk)
        await tb.injector.random_upset()
    _, saturated = await tb.read_status()
    acks = await tb.i2c.write(DEVICE, tb.regmap.reg.UPSET_COUNT_HI.address, b"\x00")
    assert all(acks)
    _, cleared = await tb.read_status()
    tb.write_stats("flags", {"per_class": per_class, "counter_preset": limit - 3, "upsets_after_preset": 6,
                             "counter_saturated": saturated, "counter_after_write": cleared})
    assert saturated == limit, f"counter {saturated:#x}, expected saturation at {limit:#x}"
    assert cleared == 0


@cocotb.test()
async def double_upset_in_one_triplet(dut):
    """Hardened build, the documented limit: the same bit of two copies in one clock.
    The voters flag it, but the majority is now wrong: a weight stays wrong (and so may
    the outputs), an output register's wrong value reaches the output port."""
    tb = SeuBench(dut)
    await tb.start()
    tb.load_weights()
    await ClockCycles(dut.clk, 2)
    design = tb.design
    weights = next(t for t in tb.targets if t.name == regfile_register(WEIGHTS_REGISTER))
    word = design.dense.bias_tensor.first_word
    bit = word * design.weight_bits + design.weight_bits - 1  # the sign bit of the first dense bias
    tb.stream.start()
    await ClockCycles(dut.clk, 50)
    await RisingEdge(dut.clk)
    weight_upset = await tb.injector.upset(weights, [0, 2], bit, 9)
    await ClockCycles(dut.clk, 400)
    outputs = next(t for t in tb.targets if t.name == "u_core.u_encoder.y_q")
    await RisingEdge(dut.clk)
    output_upset = await tb.injector.upset(outputs, [1, 2], 8, 11)  # MSB of output 0
    await ClockCycles(dut.clk, 50)
    await tb.stream.stop()
    stream = tb.finish_stream()
    image = await tb.read_image()
    flipped = bytearray(tb.image)
    flipped[bit // 8] ^= 1 << (bit % 8)
    copies = tb.copies(regfile_register(WEIGHTS_REGISTER)).values()
    stats = {"weight": {"register": weights.name, "bit": bit, "flagged": weight_upset.flagged,
                        "cleared": weight_upset.cleared,
                        "class_flag": weight_upset.class_flag, "bad_outputs": weight_upset.bad_outputs,
                        "copies_agree": len(set(copies)) == 1,
                        "image_has_the_flipped_bit": image == bytes(flipped)},
             # its later wrong outputs come from the wrong weight before it: not counted here
             "output_register": {"register": outputs.name, "bit": 8, "flagged": output_upset.flagged,
                                 "cleared": output_upset.cleared,
                                 "output_port_moved": output_upset.output_moved},
             **stream}
    tb.write_stats("double_upset", stats)
    assert weight_upset.flagged and weight_upset.class_flag, "a double upset must still be flagged"
    assert output_upset.flagged and output_upset.class_flag
    assert len(set(copies)) == 1 and image == bytes(flipped), "the voted feedback keeps the wrong majority"
    assert weight_upset.bad_outputs > 0, "the wrong bias did not change any output"
    assert output_upset.output_moved, "the wrong majority of an output register did not reach the port"
    assert weight_upset.cleared and output_upset.cleared, \
        "once the copies agree (on a wrong value) tmr_err must fall one clock after the repair edge"


@cocotb.test()
async def plain_build_upsets_corrupt_outputs(dut):
    """Plain build: the same injector into the single registers (weights and datapath)
    must visibly corrupt outputs: the proof that the injector reaches the logic."""
    tb = SeuBench(dut)
    cfg = tb.config
    await tb.start()
    tb.load_weights()
    await ClockCycles(dut.clk, 2)
    await ReadOnly()
    err_after_reset = read(dut.tmr_err, "tmr_err")
    await RisingEdge(dut.clk)
    t0 = time.perf_counter()
    tb.stream.start()
    # weights hold the upset: put them back after 3 clocks so each upset has its own window
    await tb.injector.run(cfg["plain_upsets"], gap=(4, 10), restore_after=3)
    await tb.stream.stop()
    seconds = time.perf_counter() - t0
    stream = tb.finish_stream()
    summary = summarise(tb.injector.upsets)
    per_class_visible = {cls: sum(u.escaped for u in tb.injector.upsets if u.error_class == cls)
                         for cls in summary["per_class"]}
    stats = {**summary, **stream, "visible_per_class": per_class_visible, "seconds": seconds,
             "tmr_err_after_reset": err_after_reset}
    tb.write_stats("plain", stats)
    assert err_after_reset == 0, "tmr_err must be 0 after reset"
    assert summary["flagged"] == 0, "the plain build has no voters: tmr_err must stay 0"
    assert stream["bad_outputs_before_any_upset"] == 0, stream
    assert summary["escapes"] > 0, "no upset changed an output: the injector does not reach the logic"


@cocotb.test()
async def upsets_in_registers_left_single(dut):
    """Hardened build: the registers the policy does not vote (the I2C pad synchronisers).
    Left single, their upsets are not flagged and the glitch filter behind them must hide
    them. Copied once per domain (full module triplication), an upset reaches one domain's
    filter at most, which its voters repair and may flag. Upsets there during I2C traffic
    and streaming must change nothing: transactions right, outputs bit-exact (and, for
    registers left single, no flag and the counter at zero)."""
    tb = SeuBench(dut)
    cfg = tb.config
    single = [Target.from_raw(t) for t in cfg["single_targets"]]
    assert single, "the policy leaves the pad synchronisers single: the config must name them"
    await tb.start()
    tb.load_weights()
    await ClockCycles(dut.clk, 2)
    injector = tb.new_injector(single)
    traffic = I2cTraffic(tb.i2c, DEVICE, tb.model, tb.rng)
    tb.stream.start()
    injector.start(None, gap=tuple(cfg.get("single_gap", (4, 40))))
    for i in range(cfg.get("single_transactions", len(traffic.KINDS))):
        await traffic.transaction(traffic.KINDS[i % len(traffic.KINDS)])
    await injector.stop()
    await tb.stream.stop()
    stream = tb.finish_stream(injector)
    flags, count = await tb.read_status()
    summary = summarise(injector.upsets)
    stats = {**summary, **stream, "registers": [t.name for t in single],
             "i2c_transactions": traffic.transactions, "i2c_errors": traffic.errors[:5],
             "tmr_err_flags": flags, "upset_count": count}
    tb.write_stats("single", stats)
    assert summary["injected"] > 0, "no upset in a single register"
    assert not traffic.errors, traffic.errors[:3]
    assert summary["escapes"] == 0 and stream["bad_outputs"] == 0, stream
    if all(t.policy == "none" for t in single):
        assert summary["flagged"] == 0 and (flags, count) == (0, 0), "an upset in a single register flagged"


@cocotb.test()
async def transients_while_streaming_and_over_i2c(dut):
    """Fault-injection build: single transients on random nets of every class (voters, each
    domain's logic, shared logic, datapath), one at a clock edge, while modules stream and
    while I2C traffic runs. After each, the copies agree again and the weights and
    configuration hold their values (or, in a control build, the losses are counted); at the
    end the image reads back over I2C and a stretch of streaming is bit-exact."""
    tb = SeuBench(dut)
    cfg = tb.config
    points = [SetPoint.from_raw(p) for p in cfg["transient_points"]]
    assert points, "not a fault-injection build: the config names no transient points"
    dut.set_on.value = 0
    dut.set_index.value = 0
    await tb.start()
    tb.load_weights()
    await ClockCycles(dut.clk, 2)
    held = {name: (tb.injector.copies[name], value) for name, value in tb.injector.reference.items()}
    injector = TransientInjector(dut, points, held, tb.stream, tb.rng)
    gap = tuple(cfg.get("transient_gap", (0, 4)))
    t0, clock0 = time.perf_counter(), tb.stream.cycle()
    tb.stream.start()
    await injector.run(cfg["stream_transients"], gap=gap)
    streaming = len(injector.transients)
    traffic = I2cTraffic(tb.i2c, DEVICE, tb.model, tb.rng)
    injector.start(gap=gap)
    for i in range(cfg["transient_i2c_transactions"]):
        await traffic.transaction(traffic.KINDS[i % len(traffic.KINDS)])
    await injector.stop()
    seconds, clocks = time.perf_counter() - t0, tb.stream.cycle() - clock0
    await tb.stream.stop()
    injector.attribute()
    during = tb.stream.counts()
    # afterwards, with no transient: the outputs, the status and the image
    bad_before = tb.stream.bad()
    tb.stream.start()
    await ClockCycles(dut.clk, cfg.get("clean_clocks", 2000))
    await tb.stream.stop()
    clean_bad = tb.stream.bad() - bad_before
    await tb.clear_status()
    image = await tb.read_image()
    summary = summarise_transients(injector.transients)
    stats = {**summary, **during, "transients_while_streaming": streaming,
             "transients_during_i2c": len(injector.transients) - streaming,
             "i2c_transactions": traffic.transactions, "i2c_kinds": dict(traffic.kinds),
             "i2c_error_count": len(traffic.errors), "i2c_errors": traffic.errors[:5],
             "bad_outputs_after": clean_bad, "image_read_back_equal": image == tb.image,
             "points": len(points), "clocks": clocks, "seconds": seconds,
             "transients_per_second": len(injector.transients) / seconds}
    tb.write_stats("transients", stats)
    if cfg.get("control"):
        assert summary["persistent_corruptions"] > 0, "the control lost nothing: no shared logic was hit"
        return
    assert summary["persistent_corruptions"] == 0, summary["first_corruptions"]
    assert summary["not_settled"] == 0, "copies still disagree after a transient"
    assert clean_bad == 0, "outputs wrong after the transients"
    assert image == tb.image, "weight image read over I2C differs from the programmed one"

