"""Single-event upsets (SEU) in ae_top: targets, injector, checker.

An upset inverts one flip-flop bit and holds until the register is next written,
exactly like a particle hit; the test wrapper makes it inside the simulator
(`verif.seu_wrapper`). In the hardened build the flip-flops are the replicas
`<replica_base(name)>__tmr0..2` that the TMR pass (`tmr.transform`) made of every
register in its report; in the plain build they are the registers themselves.

* `Injector` picks a register, a replica and a bit at random, waits a random number
  of clocks and a random time inside the clock, flips the bit and records an
  `Upset`: was exactly the register's class flag high before the next edge (the
  flags are combinational inside ae_top), did an output port move, were the copies
  equal again (and equal to the programmed value, for weights and configuration)
  after the next edge, was `tmr_err` high in the clock after the upset (it is a
  register: it shows the previous clock's disagreement) and low again one clock later.
* The wrapper streams modules and counts bad outputs (wrong, missing or extra); the
  injector gives those counted between one upset and the next to the first of them,
  so each bad output goes to the latest upset before it: an upset with a bad output
  (or an output port that moved at the deposit) is an escape.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from asicgen.core.design import Design
from asicgen.core.regmap import RegisterMap
from tmr.transform import replica_base
from verif.params import CLOCK_NS
from verif.runner import Public, run_cocotb
from verif.seu_wrapper import (
    PER_DOMAIN,
    WRAPPER,
    InjectionPort,
    StreamChecker,
    flip_flops,
    write_stream_files,
    write_wrapper,
)

#: ports of ae_top an upset must never move (the hardened build)
OUTPUT_PORTS = ("ae_sum", "ae_out", "ae_valid", "sda_o")


@dataclass(frozen=True)
class Target:
    """A protected register of the TMR report."""

    name: str
    width: int
    policy: str
    error_class: str

    @classmethod
    def from_register(cls, reg: Any) -> Target:
        return cls(reg.name, reg.width, reg.policy, reg.error_class)

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> Target:
        return cls(str(raw["name"]), int(raw["width"]), str(raw["policy"]), str(raw["error_class"]))

    def to_raw(self) -> dict[str, Any]:
        return asdict(self)


def resolve(top: Any, path: str) -> Any:
    """The handle of a hierarchical name like `u_i2c.gen_line[1].sync_q` below `top`."""
    handle = top
    for part in path.split("."):
        indexed = re.fullmatch(r"(\w+)\[(\d+)\]", part)
        handle = getattr(handle, indexed[1])[int(indexed[2])] if indexed else getattr(handle, part)
    return handle


def bits(handle: Any) -> str:
    """The value of a signal as the simulator's binary string (MSB first).

    The checks compare strings only: cocotb's value object keeps the simulator's string, so even
    a 13,728-bit weight replica is read without a conversion."""
    return str(handle.value)


def read(handle: Any, what: str) -> int:
    """The value of a signal; X or Z (or any other non-binary state) fails."""
    text = bits(handle)
    try:
        return int(text, 2)
    except ValueError:
        raise AssertionError(f"X/Z in {what}: {text}") from None


class Copies:
    """The flip-flops of one register: its three replicas (hardened, a protected register)
    or the register itself (plain build, or a register the policy leaves single). Read here;
    written through the wrapper's injection ports."""

    def __init__(self, top: Any, target: Target, hardened: bool, port: InjectionPort):
        self.target, self.port = target, port
        if not hardened:
            self.handles = [resolve(top, target.name)]
        else:  # Verilator names an escaped identifier with its backslash and trailing space
            self.handles = [top[name] if name.startswith("\\") else getattr(top, name)
                            for name in flip_flops(target.name, target.policy, hardened)]

    def values(self) -> list[int]:
        return [read(h, f"{self.target.name} copy {k}") for k, h in enumerate(self.handles)]

    def strings(self) -> list[str]:
        """The copies as binary strings: comparing them needs no conversion."""
        return [bits(h) for h in self.handles]

    def flip(self, replicas: Sequence[int], bit: int) -> None:
        """Invert one bit of the given copies (an upset)."""
        self.port.apply(self.target.name, replicas, bit=bit)

    def set(self, value: int) -> None:
        """Write every copy (a legitimate state change, not an upset: the copies agree)."""
        self.port.apply(self.target.name, range(len(self.handles)), value=value)


@dataclass
class Upset:
    index: int
    cycle: int
    register: str
    error_class: str
    replicas: tuple[int, ...]
    bit: int
    offset_ns: int
    #: tmr_err was high in the clock after the upset (after the next edge)
    flagged: bool = False
    #: tmr_err was low again one clock after the repair edge
    cleared: bool = False
    #: the error-flag vector was exactly the register's class
    class_flag: bool = False
    #: an output port changed at the deposit
    output_moved: bool = False
    #: after the next edge the copies agree (and hold the reference value, when there is one)
    repaired: bool = False
    #: wrong, missing or extra outputs attributed to this upset
    bad_outputs: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def escaped(self) -> bool:
        return self.output_moved or self.bad_outputs > 0


class TargetPicker:
    """Random choice of the register to hit: half the time every flip-flop bit is equally
    likely (as for particles), half the time every register is (so that the small
    state machines and configuration registers are hit too)."""

    def __init__(self, targets: Sequence[Target], rng: random.Random):
        self.targets = list(targets)
        if not self.targets:
            raise ValueError("no registers to inject into")
        self.rng = rng
        self.bits = [t.width for t in self.targets]

    def pick(self) -> Target:
        if self.rng.random() < 0.5:
            return self.rng.choices(self.targets, weights=self.bits)[0]
        return self.rng.choice(self.targets)


class Injector:
    """Flips bits of the registers' copies at random clocks and times, and checks each
    upset until the edge after it."""

    def __init__(self, dut: Any, top: Any, targets: Sequence[Target], classes: Sequence[str],
                 hardened: bool, stream: StreamChecker, rng: random.Random, port: InjectionPort):
        self.dut, self.top, self.hardened, self.stream, self.rng = dut, top, hardened, stream, rng
        self.classes = list(classes)
        self.copies = {t.name: Copies(top, t, hardened, port) for t in targets}
        self.picker = TargetPicker(targets, rng)
        self.reference: dict[str, str] = {}
        self.upsets: list[Upset] = []
        #: bad outputs counted before the first upset
        self.orphans = 0
        self._bad_seen = stream.bad()
        self.running = False
        self._task = None

    def set_reference(self, register: str, value: int) -> None:
        """The value `register` must hold after a repair (weights, configuration)."""
        self.reference[register] = format(value, f"0{self.copies[register].target.width}b")

    def count_from_now(self) -> None:
        """Forget the bad outputs counted so far (another test's, or before a reset)."""
        self._bad_seen, self.orphans = self.stream.bad(), 0

    def attribute(self) -> None:
        """Give the bad outputs counted since the last call to the latest upset (or, before any,
        to the orphans). Called at every upset and at the end of a campaign."""
        bad = self.stream.bad()
        if self.upsets:
            self.upsets[-1].bad_outputs += bad - self._bad_seen
        else:
            self.orphans += bad - self._bad_seen
        self._bad_seen = bad

    # -- one upset --------------------------------------------------------------------------

    def outputs(self) -> tuple[str, ...]:
        return tuple(bits(getattr(self.top, port)) for port in OUTPUT_PORTS)

    async def upset(self, target: Target, replicas: Sequence[int], bit: int, offset_ns: int,
                    restore_after: int | None = None) -> Upset:
        """Called just after a rising edge: wait `offset_ns`, flip `bit` of the `replicas`,
        check the class flags before the next edge, the repair and `tmr_err` after it, and
        `tmr_err` low again after the edge that follows; returns after that second edge."""
        await Timer(offset_ns, "ns")
        self.attribute()
        upset = Upset(len(self.upsets), self.stream.cycle(), target.name, target.error_class,
                      tuple(replicas), bit, offset_ns)
        self.upsets.append(upset)
        copies = self.copies[target.name]
        before = self.outputs()
        copies.flip(replicas, bit)
        await ReadOnly()
        upset.output_moved = self.outputs() != before
        protected = self.hardened and target.policy not in ("none", PER_DOMAIN)
        if protected:
            self._check_flags(upset, copies)
        await RisingEdge(self.dut.clk)
        await ReadOnly()
        upset.flagged = bits(self.dut.tmr_err) == "1"
        if protected:
            self._check_repair(upset, copies)
        await RisingEdge(self.dut.clk)
        await ReadOnly()
        upset.cleared = bits(self.dut.tmr_err) == "0"
        if protected and not upset.cleared:
            upset.problems.append("tmr_err still high one clock after the repair edge")
        # out of the read-only phase (callers may drive signals again), still just after the edge
        await Timer(1, "ps")
        if not self.hardened and restore_after is not None and target.policy in ("full", "full-shared"):
            await self._restore(copies, replicas, bit, restore_after)
        return upset

    def _check_flags(self, upset: Upset, copies: Copies) -> None:
        flags = read(self.top.tmr_flags, "the error flags")
        upset.class_flag = flags == 1 << self.classes.index(upset.error_class)
        if len(set(copies.strings())) == 1:
            upset.problems.append("the deposit did not change the copy")
        if not upset.class_flag:
            upset.problems.append(f"error flags {flags} do not name class {upset.error_class}")

    def _check_repair(self, upset: Upset, copies: Copies) -> None:
        values = copies.strings()
        want = self.reference.get(upset.register)
        upset.repaired = len(set(values)) == 1 and (want is None or values[0] == want)
        if not upset.repaired:
            upset.problems.append("copies differ after the next edge" if len(set(values)) > 1
                                  else "the copies agree on a value other than the programmed one")
        if not upset.flagged:
            upset.problems.append("tmr_err low in the clock after the upset")

    async def _restore(self, copies: Copies, replicas: Sequence[int], bit: int, clocks: int) -> None:
        """Plain build: put a register that holds its value (weights, configuration) back after
        `clocks` clocks, by inverting the bit again, so that each upset's damage stays inside its
        own window. Pipeline registers are rewritten by the next module anyway."""
        for _ in range(clocks):
            await RisingEdge(self.dut.clk)
        copies.flip(replicas, bit)

    # -- campaigns --------------------------------------------------------------------------

    def random_upset(self, restore_after: int | None = None):
        target = self.picker.pick()
        replica = self.rng.randrange(len(self.copies[target.name].handles))
        return self.upset(target, [replica], self.rng.randrange(target.width),
                          self.rng.randrange(1, CLOCK_NS - 1), restore_after)

    async def run(self, count: int | None, gap: tuple[int, int] = (2, 8),
                  restore_after: int | None = None) -> None:
        """`count` upsets (or until `stop()`), `gap` = (min, max) clocks between two of them.

        A gap of at least 2 clocks keeps every upset alone in its clock: the upset counter
        then counts upsets, and the clock after each upset's flagged one shows `tmr_err` low."""
        self.running = True
        await self._upsets(count, gap, restore_after)

    def start(self, count: int | None = None, gap: tuple[int, int] = (2, 8),
              restore_after: int | None = None) -> None:
        """`run` in the background until `stop()`. Running from here on, not from when the task
        first runs: a `stop()` before that must still end it."""
        self.running = True
        self._task = cocotb.start_soon(self._upsets(count, gap, restore_after))

    async def _upsets(self, count: int | None, gap: tuple[int, int], restore_after: int | None) -> None:
        if gap[0] < 2:
            raise ValueError("upsets must be at least 2 clocks apart")
        done = 0
        await RisingEdge(self.dut.clk)
        while self.running and (count is None or done < count):
            # upset() returns just after the second edge following its deposit; one timer over
            # the rest of the gap costs less than a wake-up at every edge
            clocks = self.rng.randint(gap[0], gap[1]) - 2
            if clocks:
                await Timer(clocks * CLOCK_NS, "ns")
            await self.random_upset(restore_after)
            done += 1
        self.running = False

    async def stop(self) -> None:
        """Stop after the upset in progress (checked to its repair edge)."""
        self.running = False
        if self._task is not None:
            await self._task
            self._task = None


def summarise(upsets: Sequence[Upset]) -> dict[str, Any]:
    """Counts over a campaign: injected, flagged, cleared, class flag right, repaired, escapes,
    per class."""
    return {
        "injected": len(upsets),
        "flagged": sum(u.flagged for u in upsets),
        "cleared": sum(u.cleared for u in upsets),
        "class_flag_right": sum(u.class_flag for u in upsets),
        "repaired": sum(u.repaired for u in upsets),
        "escapes": sum(u.escaped for u in upsets),
        "bad_outputs": sum(u.bad_outputs for u in upsets),
        "output_port_moved": sum(u.output_moved for u in upsets),
        "with_problems": sum(bool(u.problems) for u in upsets),
        "per_class": dict(sorted(Counter(u.error_class for u in upsets).items())),
        "per_register": dict(sorted(Counter(u.register for u in upsets).items())),
        "first_problems": [f"upset {u.index} ({u.register} copy {u.replicas} bit {u.bit}, clock {u.cycle}): "
                           + "; ".join(u.problems) for u in upsets if u.problems][:5],
    }


# -- launching side ----------------------------------------------------------------------------


def tmr_classes(design: Design) -> list[str]:
    """The error classes in the order of the TMR_ERR flag bits."""
    return [f.name for f in RegisterMap.for_design(design).reg.TMR_ERR.fields]


@dataclass(frozen=True)
class SeuBuild:
    """One build of a campaign: its design sources (the plain RTL or the hardened netlist; the
    wrapper comes with the campaign), the protected registers of the TMR report and those it left
    single. The wrapper's register table is both lists: every test of either build can hit any
    register."""

    sources: list[Path]
    protected: list[Target]
    single: list[Target]
    hardened: bool

    @property
    def table(self) -> list[Target]:
        return [*self.protected, *self.single]


def report_targets(report: Any) -> tuple[list[Target], list[Target]]:
    """(protected, not voted) registers of a TMR report: those left single and those with one
    copy per domain."""
    return ([Target.from_register(r) for r in report.triplicated],
            [*(Target(r.name, r.width, "none", r.error_class) for r in report.single),
             *(Target(r.name, r.width, PER_DOMAIN, r.error_class) for r in report.per_domain)])


def seu_builds(plain_sources: Sequence[Path], hardened_netlist: Path,
               report: Any) -> tuple[SeuBuild, SeuBuild]:
    """(the plain build, the hardened build) of a campaign: the generated RTL, the netlist the TMR
    pass made of it and the pass's report (e.g. `asicgen.harden.generate_plain_and_hardened`)."""
    protected, single = report_targets(report)
    return (SeuBuild(list(plain_sources), protected, single, False),
            SeuBuild([Path(hardened_netlist)], protected, single, True))


def prepare_campaign(build_dir: Path, seu: SeuBuild, design: Design, weights: Any, codes: Any,
                     targets: Sequence[Target], seed: int, transient_points: Sequence[Any] = (),
                     **sizes: Any) -> dict[str, Any]:
    """Write the stream files (the modules `codes` in the design's default e-link mode and the
    model's outputs for them) and the wrapper into `build_dir`, and return the config
    verif/tb_seu.py reads: design, weights, the build, the registers to hit (`targets`), the
    single ones, the wrapper's table, the sources and the campaign sizes (`sizes`); with
    `transient_points` (`verif.set_build.SetPoint`), the build is a fault-injection build."""
    build_dir = Path(build_dir)
    files = write_stream_files(build_dir, design, weights, codes, design.default_elinks)
    wrapper = write_wrapper(build_dir / f"{WRAPPER}.sv", seu.table, seu.hardened, design, files,
                            len(transient_points))
    return {"design": design.to_raw(), "weights": weights.words(),
            "build": "tmr" if seu.hardened else "plain", "targets": [t.to_raw() for t in targets],
            "single_targets": [t.to_raw() for t in seu.single],
            "inject_table": [t.name for t in seu.table], "sources": [*seu.sources, wrapper],
            "classes": tmr_classes(design), "seed": seed, "stats_dir": build_dir / "stats",
            "stream_modules": files.modules, "transient_points": [p.to_raw() for p in transient_points],
            **sizes}


def run_seu(build_dir: Path, config: dict[str, Any], tests: str | Sequence[str], optimise: bool = False,
            build_args: Sequence[str] = (), after_build: Callable[[], None] | None = None) -> Any:
    """Build (once per build_dir) and run the cocotb tests `tests` of verif/tb_seu.py, with only the
    signals they touch public (`public_signals`); `after_build` as in `verif.runner.run_cocotb`."""
    hardened = config["build"] == "tmr"
    targets = [Target.from_raw(t) for t in config["targets"]]
    single = [Target.from_raw(t) for t in config["single_targets"]]
    return run_cocotb(sources=[Path(s) for s in config["sources"]], toplevel=WRAPPER,
                      test_module="verif.tb_seu", build_dir=build_dir, config=config, testcase=tests,
                      optimise=optimise, build_args=build_args, after_build=after_build,
                      public=public_signals(targets, single, hardened))


def public_signals(targets: Sequence[Target], single: Sequence[Target], hardened: bool) -> list[Public]:
    """What the SEU tests read and write, for a Verilator build that makes only these public (and
    optimises the rest): the wrapper's ports (written), and, read only, the output ports an upset
    must not move and the flip-flops of every target. In the hardened build these are the replicas
    of the protected registers and the registers left single, all in the flat ae_top, and the error
    flags; in the plain build every register is in its own module, named by its last component."""
    signals = [Public(WRAPPER, "*"), *(Public("ae_top", port, "rd") for port in OUTPUT_PORTS)]
    if not hardened:
        return [*signals, *(Public("*", t.name.rsplit(".", 1)[-1], "rd") for t in (*targets, *single))]
    return [*signals, Public("ae_top", "tmr_flags", "rd"),
            *(Public("ae_top", f"{replica_base(t.name)}__tmr*", "rd") for t in targets),
            # an escaped name: every run of other characters matches its original and encoded form
            # (and its domain copies, `<name>__d1`, `__d2`)
            *(Public("ae_top", re.sub(r"[^A-Za-z0-9_]+", "*", t.name) + "*", "rd") for t in single)]
