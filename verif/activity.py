"""Switching activity measured in simulation, for power estimates: the bulk testbench streams
region data through the datapath with trained weights, Verilator counts every signal bit's
toggles (toggle coverage), and the mean toggle rate per clock over the datapath's flip-flop
bits is the figure OpenSTA is given (`asicgen.sta`).

Verilator (5.048 here) counts the toggles of a signal wider than 64 bits (stored as 32-bit
words) cumulatively across its words: the count it reports for bit 32k+b is the sum of the
toggles of bits b, 32+b, ..., 32k+b. `unwind_wide_counts` takes the differences back.
Checked on the converter's 384-bit input register streaming 2,000 modules: the corrected
counts equal, bit for bit, the toggles of the bit-exact model's normalised inputs (up to
the one transition out of reset); uncorrected, the mean was 6.5 times too high."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asicgen.core.codec import encode_tc
from asicgen.core.weights import WeightSet
from verif.bulk import build_bulk, run_bulk
from verif.runner import SimulationError
from verif.vectors import VectorSet

#: Verilator stores signals wider than this in 32-bit words (VlWide)
WIDE_BITS, WORD_BITS = 64, 32
#: the datapath's instance in the bulk testbench; the clock that counts cycles
DATAPATH_SCOPE = "tb_bulk.u_core"
CLOCK = ("tb_bulk", "clk")
@dataclass(frozen=True)
class Activity:
    """Switching activity of the datapath measured in simulation."""

    #: toggles per clock, mean over the datapath's flip-flop bits
    datapath: float
    bits: int
    cycles: int
    how: str

    def global_rate(self, datapath_share: float) -> float:
        """The activity of the average net of a design whose cells are `datapath_share`
        datapath, the rest idle (register file and I2C target while modules stream)."""
        return self.datapath * datapath_share


_POINT = re.compile(r"^C '(.*)' (\d+)$")
_DIRECTION = re.compile(r"^(.*):[01]->[01]$")


def read_toggles(path: Path, clock: tuple[str, str] = CLOCK) -> tuple[Counter, int]:
    """(toggles of every signal bit, keyed (scope, bit), both directions summed; cycles of the
    testbench's `clock` (scope, name)) from a Verilator coverage.dat."""
    toggles: Counter = Counter()
    for line in Path(path).read_text(errors="replace").splitlines():
        found = _POINT.match(line)
        if found is None:
            continue
        fields = dict(item.split("\x02", 1) for item in found.group(1).split("\x01") if "\x02" in item)
        if fields.get("t") != "toggle" or "o" not in fields:
            continue
        bit = _DIRECTION.match(fields["o"])
        if bit is not None:
            toggles[(fields.get("h", ""), bit.group(1))] += int(found.group(2))
    cycles = toggles.get(clock, 0) // 2
    if cycles == 0:
        raise SimulationError(f"{path}: no toggles of the testbench clock; not a toggle-coverage run")
    return toggles, cycles


_INDEXED = re.compile(r"^(.*)\[(\d+)\]$")


def unwind_wide_counts(toggles: Counter) -> Counter:
    """Toggle counts with the cumulative counting of wide signals undone (see the module docstring):
    for every signal with a bit index at or above WIDE_BITS, bit 32k+b gets its count minus that
    of bit 32(k-1)+b."""
    signals: dict[tuple[str, str], dict[int, int]] = {}
    plain: Counter = Counter()
    for (scope, bit), count in toggles.items():
        found = _INDEXED.match(bit)
        if found is None:
            plain[(scope, bit)] += count
        else:
            signals.setdefault((scope, found.group(1)), {})[int(found.group(2))] = count
    fixed = Counter(plain)
    for (scope, name), counts in signals.items():
        wide = max(counts) >= WIDE_BITS
        for index, count in counts.items():
            below = counts.get(index - WORD_BITS, 0) if wide and index >= WORD_BITS else 0
            fixed[(scope, f"{name}[{index}]")] = count - below
    return fixed


def _is_register(bit: str) -> bool:
    """A flip-flop bit: the RTL names every register `<name>_q` (lowRISC style)."""
    return bit.split("[", 1)[0].endswith("_q")


def datapath_activity(toggles: Counter, cycles: int, how: str) -> Activity:
    """Mean toggles per clock over the datapath's flip-flop bits. Registers change at most once
    per clock; a simulator's toggle counts of combinational nets also hold the zero-time
    changes of its evaluation order, which no gate makes, so they are left out."""
    bits = {key: n for key, n in toggles.items()
            if (key[0] == DATAPATH_SCOPE or key[0].startswith(DATAPATH_SCOPE + ".")) and _is_register(key[1])}
    if not bits:
        raise SimulationError(f"no register toggle counts under {DATAPATH_SCOPE}")
    mean = sum(bits.values()) / (len(bits) * cycles)
    return Activity(round(mean, 6), len(bits), cycles, how)


def measure_activity(weights: WeightSet, charges: np.ndarray, elinks: int, rtl_dir: Path, work: Path,
                     source: str) -> Activity:
    """Stream `charges` (one module per row, `source` names them) through the datapath of the RTL
    in `rtl_dir` with `weights`, check every output against the model, and measure the activity."""
    design = weights.design
    codes = encode_tc(np.asarray(charges))
    vectors = VectorSet(codes, np.full(len(codes), elinks, dtype=np.int64), ((source, len(codes)),))
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    binary, _, _ = build_bulk(design, rtl_dir, work / "build", optimise=True, toggles=True)
    result = run_bulk(binary, weights, vectors, work, shards=1, coverage_dir=work)
    if result.mismatches or result.checked != len(codes):
        raise SimulationError(f"the activity run mismatched the model on {result.mismatches} of "
                              f"{result.checked} modules")
    toggles, cycles = read_toggles(work / "coverage0.dat")
    toggles = unwind_wide_counts(toggles)
    how = (f"Verilator toggle coverage of the datapath streaming {len(codes):,} modules of {source} "
           f"({elinks} e-links), one every {design.ii} clock(s), outputs checked against the model: "
           f"mean toggles per clock over its flip-flop bits (counts of signals wider than 64 bits "
           f"unwound, see verif/activity.py)")
    return datapath_activity(toggles, cycles, how)
